package io.reelay.loadtest.bench;

import java.util.Locale;

/** The simulator's configuration for load runs. */
final class Sims {

  private Sims() {}

  /**
   * The load profile at {@code timeScale}: one shared clip encoded per duration (not one per title,
   * which would make the simulator the bottleneck), credits enough for any run, no rate limit of
   * its own beyond the vendor's defaults scaled.
   */
  static String loadProfile(double timeScale) {
    return String.format(Locale.ROOT, """
        time-scale = %s
        render-mode = "shared"
        credits-per-token = 100000000
        """, timeScale);
  }
}
