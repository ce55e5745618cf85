"""drmkit HAL: the OpenCDM binding."""
