package io.reelay.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/**
 * A request on {@code reelay.requests}, keyed by {@code sessionKey}. {@code requestId} is the
 * idempotency key end to end: it names the record, the render job and every event.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Request(
    int v,
    String requestId,
    String sessionKey,
    String tenant,
    String text,
    Action action,
    String language,
    Upload upload,
    Output output,
    String cancels,
    String callbackUrl,
    Instant submittedAt) {

  public static final int VERSION = 1;
  public static final String DEFAULT_TENANT = "default";

  /** A file to add to the session: either a URL the backend fetches or a local path. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Upload(String url, String path, String fileName, String contentType) {}

  /** Export options, passed to the render job. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Output(String format, String quality) {
    public static final Output DEFAULT = new Output("mp4", "high");
  }

  public String tenantOrDefault() {
    return tenant == null || tenant.isBlank() ? DEFAULT_TENANT : tenant;
  }

  /** The explicit action, or the one the seed's routing table derives from the text. */
  public Action effectiveAction() {
    return action != null ? action : IntentRouter.route(text, upload != null);
  }

  public static Request of(String requestId, String sessionKey, String text, Action action) {
    return new Request(
        VERSION, requestId, sessionKey, DEFAULT_TENANT, text, action, null, null, null, null, null,
        Instant.now());
  }
}
