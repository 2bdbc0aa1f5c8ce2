"""Authentication (who is calling) and authorization (what they may do).

    identity.py           Identity, SYSTEM: what every resolver and store call sees
    authenticate.py       AuthConfig ([auth] in syncline.toml) and Authenticator.authenticate:
                          the one identity function of HTTP, WebSocket and MQTT
    api_keys.py           API_KEY registry in the data dir; `syncline keys ...` (keys_main)
    oidc.py               OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS: JWT + JWKS
    sigv4.py              AWS_IAM: SigV4 verification (sans-IO)
    lambda_authorizer.py  AWS_LAMBDA: a Python authorizer with AppSync's shapes and TTL cache
    policy.py             AppSync directives and Amplify @auth rules (pure)
    tls.py                dev certificate and server SSL context
    static.py             the single-key authenticator a fresh project runs with

Nothing is re-exported here on purpose: `server.auth.identity` is imported by sans-IO cores,
and importing this package must not drag in aiohttp, pyjwt or cryptography.
"""
