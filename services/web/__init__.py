"""The web app: server-rendered pages for officials, instructors and admins over the services' public APIs."""
