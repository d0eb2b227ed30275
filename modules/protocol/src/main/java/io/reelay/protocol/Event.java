package io.reelay.protocol;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * A status event on {@code reelay.events}, keyed by {@link Topics#requestKey} (tenant/requestId).
 * {@code seq} increases strictly per request; the last event of a request has a terminal {@link
 * RequestState}. Seq 0 is {@link RequestState#SUBMITTED}, published by the status API when it
 * accepts a request; a worker's first event is seq 1 (QUEUED).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Event(
    int v,
    String requestId,
    String sessionKey,
    String tenant,
    long seq,
    Instant at,
    RequestState state,
    Phase phase,
    String message,
    Double progress,
    Result result,
    ErrorInfo error) {

  public static final int VERSION = 1;

  /** What a finished request produced. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Result(String downloadUrl, String timeline, Credits credits, List<Media> media) {}

  /** A credit balance: {@code total = available + frozen}. */
  public record Credits(long available, long frozen, long total) {}

  /** A file the backend holds for the session. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Media(String fileName, String fileType, String url, Double durationSeconds) {}

  /**
   * Why a request failed. {@code code} is the backend's code (e.g. {@code "2001"}) or ours (e.g.
   * {@code "INVALID_REQUEST"}); {@code hint} tells a person what to do next.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ErrorInfo(String code, String reason, boolean retryable, String hint) {}

  /** The event the status API publishes when it has put {@code r} on the requests topic: seq 0, SUBMITTED. */
  public static Event submitted(Request r, Instant at) {
    return new Event(VERSION, r.requestId(), r.sessionKey(), r.tenantOrDefault(), 0, at, RequestState.SUBMITTED, Phase.QUEUED,
        "Submitted", null, null, null);
  }

  @JsonIgnore
  public boolean isTerminal() {
    return state != null && state.isTerminal();
  }
}
