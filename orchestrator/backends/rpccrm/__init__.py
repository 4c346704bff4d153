"""The method-RPC CRM (seed 001): every call a `{"method", "parameters"}` body, Bearer login."""
