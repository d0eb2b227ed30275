package io.reelay.status;

import io.reelay.protocol.Event;
import java.time.Instant;

/** The latest status of one request: its last event, when that happened, and how many events it had. */
public record RequestStatus(Event latest, Instant updatedAt, int eventCount) {
  public String requestId() {
    return latest.requestId();
  }

  public String tenant() {
    return StoredRequest.tenantOf(latest);
  }
}
