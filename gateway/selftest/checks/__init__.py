"""The checks, one module per spec area; each check names the page it comes from."""
