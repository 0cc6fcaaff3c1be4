"""Subject requests ("is my plate held?"): a person asks what is held about a plate; every agency that might hold
it sees the request; each answers by letter to the verified registered keeper. Never an online answer
(docs/subject-requests.md)."""
