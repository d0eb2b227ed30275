package io.reelay.cli;

import io.reelay.protocol.Event;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Shows a request's events as a person wants to follow them: every message as a line, and below
 * them one live progress bar (percent when known, elapsed time always), redrawn in place on a
 * terminal.
 */
final class ProgressView implements AutoCloseable {

  private static final int WIDTH = 30;

  private final PrintStream out;
  private final boolean tty;
  private final String label;
  private final Instant started = Instant.now();
  private boolean barShown;
  private Event last;
  // redraws the bar between events, so the elapsed time and the spinner keep moving
  private final ScheduledExecutorService ticker;

  ProgressView(PrintStream out, String label) {
    this.out = out;
    this.tty = System.console() != null && !"dumb".equals(System.getenv("TERM"));
    this.label = label;
    this.ticker = tty ? Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "progress-ticker");
      t.setDaemon(true);
      return t;
    }) : null;
    if (ticker != null) {
      ticker.scheduleAtFixedRate(this::tick, 250, 250, TimeUnit.MILLISECONDS);
    }
  }

  private synchronized void tick() {
    if (last != null && !last.isTerminal()) {
      drawBar(last);
      out.flush();
    }
  }

  @Override
  public synchronized void close() {
    if (ticker != null) {
      ticker.shutdownNow();
    }
    clearBar();
    out.flush();
  }

  synchronized void onEvent(Event e) {
    last = e;
    clearBar();
    if (e.message() != null && !e.message().isBlank()) {
      out.printf("  %s %-10s %s%n", elapsed(), e.phase() == null ? "" : e.phase().name().toLowerCase(Locale.ROOT), e.message());
    }
    if (!e.isTerminal()) {
      drawBar(e);
    }
    out.flush();
  }

  private void drawBar(Event e) {
    if (!tty) {
      return;
    }
    double p = e.progress() == null ? -1 : Math.max(0, Math.min(1, e.progress()));
    StringBuilder bar = new StringBuilder();
    if (p < 0) {
      int pos = (int) ((Duration.between(started, Instant.now()).toMillis() / 250) % WIDTH);
      for (int i = 0; i < WIDTH; i++) {
        bar.append(i == pos ? '=' : ' ');
      }
    } else {
      int filled = (int) Math.round(p * WIDTH);
      bar.append("=".repeat(filled)).append(" ".repeat(WIDTH - filled));
    }
    String pct = p < 0 ? " ..." : String.format(Locale.ROOT, "%3d%%", Math.round(p * 100));
    out.print("\r" + label + " [" + bar + "] " + pct + " " + elapsed() + " " + e.state());
    barShown = true;
  }

  private void clearBar() {
    if (tty && barShown) {
      out.print("\r\033[K");
      barShown = false;
    }
  }

  private String elapsed() {
    long s = Duration.between(started, Instant.now()).toSeconds();
    return String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
  }
}
