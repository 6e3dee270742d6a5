"""The web portal (`tonghop serve`, SPEC §4.6): units upload through their private links and see
their findings at once, stewards review, owners read the draft, operators see each period's
status. `app` (the Starlette application: routes, sign-in, errors); the pages of each area,
`unit_pages`, `steward_pages`, `owner_pages`, `operator_pages`, on what `core` shares;
`access` (roles, links, CSRF), `auth` (passwords, sign-in), `store` (the portal's own SQLite
state), `uploads` (a unit's file through collect and validate), `views` (what each page
reads), `decisions` (a steward's decision before it is applied), `templates/` (the pages).
See docs/portal.md.
"""
