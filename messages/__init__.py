"""The contract between q2c's parts: the dataclasses that workflows, activities and the API
exchange (`models`), the activities' names (`activity_names`) and the custom search
attributes (`search_attributes`).

Imported as equals by workflows/, activities/, db/ and starter/; imports only domain/.
Everything here is plain data, safe to pass through the workflow sandbox.
"""
