package io.reelay.cli;

import com.typesafe.config.Config;

/** Small things every command needs. */
final class Cli {

  private Cli() {}

  /** The status API with the configured key, or the one {@code reelay up} wrote to var/api-key. */
  static StatusApi statusApi(Config config) {
    return statusApi(config, null);
  }

  /** As {@link #statusApi(Config)}, at {@code url} when given (else {@code reelay.cli.status-url}). */
  static StatusApi statusApi(Config config, String url) {
    String key = config.getString("reelay.cli.api-key").trim();
    if (key.isEmpty()) {
      key = new Home(config).readApiKey().orElseThrow(() -> new IllegalStateException(
          "no API key: set REELAY_API_KEY, or run `reelay up`, which writes var/api-key"));
    }
    return new StatusApi(url != null && !url.isBlank() ? url : config.getString("reelay.cli.status-url"), key);
  }
}
