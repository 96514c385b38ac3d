-- migrate:up

-- domain.vat.VatCategory.INTRA_COMMUNITY: an intra-community supply of goods (EN 16931 K,
-- Codul fiscal art. 294 (2) a)), which RO e-Factura reports with its own category.
ALTER TABLE contract_lines DROP CONSTRAINT contract_lines_vat_category_check,
    ADD CONSTRAINT contract_lines_vat_category_check CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject',
        'intra_community'));
ALTER TABLE proposal_lines DROP CONSTRAINT proposal_lines_vat_category_check,
    ADD CONSTRAINT proposal_lines_vat_category_check CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject',
        'intra_community'));
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_vat_category_check,
    ADD CONSTRAINT invoice_lines_vat_category_check CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject',
        'intra_community'));

-- migrate:down

-- Lines of the new category would break the old constraint: they read as exempt.
UPDATE contract_lines SET vat_category = 'exempt' WHERE vat_category = 'intra_community';
UPDATE proposal_lines SET vat_category = 'exempt' WHERE vat_category = 'intra_community';
UPDATE invoice_lines SET vat_category = 'exempt' WHERE vat_category = 'intra_community';
ALTER TABLE contract_lines DROP CONSTRAINT contract_lines_vat_category_check,
    ADD CONSTRAINT contract_lines_vat_category_check CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject'));
ALTER TABLE proposal_lines DROP CONSTRAINT proposal_lines_vat_category_check,
    ADD CONSTRAINT proposal_lines_vat_category_check CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject'));
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_vat_category_check,
    ADD CONSTRAINT invoice_lines_vat_category_check CHECK (vat_category IN (
        'standard', 'reduced', 'zero', 'exempt', 'reverse_charge', 'not_subject'));
