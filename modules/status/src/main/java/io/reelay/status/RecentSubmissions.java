package io.reelay.status;

import io.reelay.protocol.Event;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Read-your-writes for the caller who just submitted: the SUBMITTED status of the requests this
 * instance published in the last moments, until the status stores have it (the events topic is read
 * a few milliseconds to a second later, possibly by another instance). A GET or {@code /events}
 * right after the 202 finds the request here instead of answering 404. Bounded in size and age.
 */
final class RecentSubmissions {

  private final Duration keep;
  private final int max;
  private final Map<String, RequestStatus> recent = new LinkedHashMap<>();

  RecentSubmissions(Duration keep, int max) {
    this.keep = keep;
    this.max = max;
  }

  synchronized void add(Event submitted) {
    String key = Listing.requestKey(StoredRequest.tenantOf(submitted), submitted.requestId());
    recent.remove(key);
    recent.put(key, new RequestStatus(submitted, submitted.at() == null ? Instant.now() : submitted.at(), 1));
    expire(Instant.now());
  }

  /** The SUBMITTED status of a request published here moments ago. */
  synchronized Optional<RequestStatus> get(String tenant, String requestId) {
    expire(Instant.now());
    return Optional.ofNullable(recent.get(Listing.requestKey(tenant, requestId)));
  }

  private void expire(Instant now) {
    Instant cutoff = now.minus(keep);
    Iterator<RequestStatus> it = recent.values().iterator();
    while (it.hasNext()) {
      RequestStatus s = it.next();
      if (recent.size() > max || s.updatedAt().isBefore(cutoff)) {
        it.remove();
      } else {
        break;
      }
    }
  }
}
