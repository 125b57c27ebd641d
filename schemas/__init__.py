"""Package data: our XSDs (and later WSDL/OpenAPI), shipped inside edxml as ``edxml.schemas``."""
