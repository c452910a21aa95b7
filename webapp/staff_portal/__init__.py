"""The staff admin portal at /staff: server-rendered pages over the staff API's services."""
