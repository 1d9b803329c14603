"""Sign-in lock-outs (django-axes): what is locked, lifting a lock-out, the 429
page, the managers' page and the API."""
