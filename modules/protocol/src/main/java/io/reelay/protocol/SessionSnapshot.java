package io.reelay.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * The durable state of one session on the compacted {@code reelay.sessions} topic, keyed by
 * {@code sessionKey}. The token is only ever stored encrypted.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SessionSnapshot(
    int v,
    String sessionKey,
    String tenant,
    String clientId,
    String userId,
    String backendSessionId,
    String taskId,
    String language,
    String encryptedToken,
    Instant tokenExpiresAt,
    InFlight inFlight,
    List<String> recentRequestIds,
    Long doneThroughOffset,
    Event pendingTerminal,
    Instant updatedAt) {

  public static final int VERSION = 1;

  // doneThroughOffset: the highest requests-topic offset (in this session's partition) of a request
  // this session has finished; every earlier request of the session is finished too (a session runs
  // its requests in offset order), so a new owner skips them without keeping their ids.
  //
  // pendingTerminal: the terminal event of the last finished request, recorded before it is
  // published and cleared once Kafka acknowledged it. A new owner that finds it set cannot know
  // whether it was published, so it publishes it (again, with the same seq) instead of running the
  // request again: the request ends once, and a repeated terminal event is recognisable by its seq.

  /** The request a session is working on, with enough to resume it without paying twice. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record InFlight(
      String requestId, Phase phase, String renderId, String stateFingerprint, long nextSeq) {}
}
