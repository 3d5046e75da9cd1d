"""Programs for people: translate files (translate), the live demo (live/) and the WebSocket server (serve/)."""
