package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** Typed answers of the backend endpoints (nemo-api.md §3–4). */
public final class Answers {

  private Answers() {}

  /** E1: an anonymous token with its account. */
  public record AnonymousToken(Token token, String userId, Instant expiresAt, long credits) {}

  /** E2: a task and its agent session. */
  public record BackendSession(String taskId, String sessionId) {}

  /** E6: the credit balance; {@code total = available + frozen}. */
  public record Credits(long available, long frozen, long total) {}

  /** E7: the latest session state; {@code draft} uses the backend's short keys (t, tt, sg, d, m). */
  public record SessionState(String sessionId, String taskId, String taskName, JsonNode state) {

    public JsonNode draft() {
      return state == null ? null : state.get("draft");
    }

    /** Exportable when {@code draft.t} exists and some track has a non-empty {@code sg}. */
    public boolean hasExportableDraft() {
      JsonNode tracks = draft() == null ? null : draft().get("t");
      if (tracks == null || !tracks.isArray()) {
        return false;
      }
      for (JsonNode t : tracks) {
        if (t.path("sg").isArray() && t.path("sg").size() > 0) {
          return true;
        }
      }
      return false;
    }

    /** A stable digest of the draft and media, to tell whether the backend state changed. */
    public String fingerprint() {
      JsonNode s = state == null ? null : state;
      String basis =
          s == null
              ? ""
              : String.valueOf(s.get("draft"))
                  + '|' + s.path("video_infos").size()
                  + '|' + s.path("generated_media").size();
      return Integer.toHexString(basis.hashCode()) + "-" + basis.length();
    }
  }

  /** E8/E9: a render job, read from either documented poll shape. */
  public record RenderJob(String id, String status, Integer progress, String outputUrl, String error, Long completedAt) {

    public boolean isCompleted() {
      return "completed".equalsIgnoreCase(status) || "succeeded".equalsIgnoreCase(status);
    }

    public boolean isFailed() {
      return "failed".equalsIgnoreCase(status) || "error".equalsIgnoreCase(status);
    }

    /** Any status we do not know counts as still running (nemo-api.md §4, E9 client rule). */
    public boolean isRunning() {
      return !isCompleted() && !isFailed() && !"cancelled".equalsIgnoreCase(status);
    }
  }
}
