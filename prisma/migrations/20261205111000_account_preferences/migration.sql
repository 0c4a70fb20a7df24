-- Preferences that follow the account to any browser (preferences.get/update):
-- the theme, the model a new chat starts with, the voice and auto-play. The
-- browser keeps a copy in localStorage, which stays a guest's only store.
-- client_prefs_saved_at: when a browser last saved one of these four; NULL
-- means none ever did, and the first signed-in browser uploads its own choices
-- instead of taking the defaults.
ALTER TABLE "user_preferences"
  ADD COLUMN "theme" TEXT NOT NULL DEFAULT 'system',
  ADD COLUMN "default_model" TEXT,
  ADD COLUMN "voice" TEXT,
  ADD COLUMN "auto_play" BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN "client_prefs_saved_at" TIMESTAMPTZ(3),
  ADD CONSTRAINT "user_preferences_theme_check" CHECK ("theme" IN ('system', 'light', 'dark'));
