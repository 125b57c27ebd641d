"""A provincial LGSP (Local Government Service Platform): the axis behind an API manager."""
