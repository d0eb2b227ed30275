package io.reelay.loadtest.bench;

import java.nio.file.Path;

/**
 * How a scenario is run: {@code quick} (about a minute, for checks) or the full measurement; where
 * the repository is (the peer's shell script lives there), where the report goes, where the
 * processes keep their logs and data; whether the peer runs beside it; and overrides of the
 * scenario's own sizes (null: the scenario's default for the mode).
 */
public record Bench(boolean quick, Path repoRoot, Path reportDir, Path workDir, boolean peer, Integer count, Double rate,
    Integer seconds, String logLevel) {

  /** {@code count} if given, else {@code quickValue} or {@code fullValue}. */
  public int count(int quickValue, int fullValue) {
    return count != null ? count : quick ? quickValue : fullValue;
  }

  public double rate(double quickValue, double fullValue) {
    return rate != null ? rate : quick ? quickValue : fullValue;
  }

  public int seconds(int quickValue, int fullValue) {
    return seconds != null ? seconds : quick ? quickValue : fullValue;
  }

  /** The command line that reproduces a run of {@code scenario} with these options. */
  public String command(String scenario) {
    StringBuilder b = new StringBuilder("bin/reelay loadtest ").append(scenario);
    if (quick) {
      b.append(" --quick");
    }
    if (count != null) {
      b.append(" --count ").append(count);
    }
    if (rate != null) {
      b.append(" --rate ").append(rate);
    }
    if (seconds != null) {
      b.append(" --seconds ").append(seconds);
    }
    if (!peer) {
      b.append(" --no-peer");
    }
    return b.toString();
  }
}
