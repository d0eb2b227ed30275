package io.reelay.cli;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/** Follows one request to its end and, when asked, saves its video. Shared by submit and demo. */
final class Follow {

  private Follow() {}

  /** @return the terminal event */
  static Event untilDone(StatusApi api, String requestId, String label, Duration timeout, PrintStream out)
      throws Exception {
    Event last;
    try (ProgressView view = new ProgressView(out, label)) {
      last = api.follow(requestId, timeout, view::onEvent);
    }
    if (last.state() != RequestState.COMPLETED && last.error() != null) {
      out.printf("  %s: %s%n", last.state().name().toLowerCase(Locale.ROOT), last.error().reason());
      if (last.error().hint() != null) {
        out.printf("  what to do: %s%n", last.error().hint());
      }
    }
    return last;
  }

  /** Saves the result video of a completed export under {@code dir}, named after the request. */
  static Path save(StatusApi api, Event done, Path dir) throws Exception {
    String url = done.result() == null ? null : done.result().downloadUrl();
    if (url == null) {
      throw new IllegalStateException("request " + done.requestId() + " has no download URL");
    }
    Path target = dir.resolve(done.requestId().replaceAll("[^A-Za-z0-9._-]", "_") + ".mp4");
    return api.download(url, target);
  }
}
