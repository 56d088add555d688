"""Every SQL statement and transaction of the progress service, one module per aggregate."""
