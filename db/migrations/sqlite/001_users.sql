-- Accounts. Usernames are unique without regard to ASCII case (the only letters a
-- username may contain). Passwords are stored only as Argon2id strings
-- (crypto_pwhash_str), API keys only as the SHA-256 of the key, indexed for lookup.
CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT    NOT NULL,
  api_key_hash  BLOB    NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
