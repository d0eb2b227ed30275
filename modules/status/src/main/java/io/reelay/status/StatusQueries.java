package io.reelay.status;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * What the HTTP API asks of the status view. Every question names the caller's tenant; a request of
 * another tenant is answered like one that does not exist. A failed stage carries an {@link
 * ApiErrors.ApiException} (503 while the answer's owner is moving or unreachable) the routes answer
 * as is.
 */
interface StatusQueries {

  /** The latest status of a tenant's request, if known. */
  CompletionStage<Optional<RequestStatus>> status(String tenant, String requestId);

  /**
   * The events of a request with {@code seq > afterSeq}, the kept history first and then live
   * ones, completing after the terminal one; empty when the request is unknown.
   *
   * @param waitForFirst the request was just submitted here: follow it even if it is not stored yet
   */
  CompletionStage<Optional<Source<Event, NotUsed>>> follow(String tenant, String requestId, long afterSeq, boolean waitForFirst);

  /**
   * A page of a tenant's requests (a session's when {@code session} is not null), most recently
   * updated first.
   *
   * @param state only requests in this state when not null
   * @param afterPosition where the previous page ended ({@link Page#next()}), or null for the first
   */
  CompletionStage<Page> list(String tenant, String session, RequestState state, String afterPosition, int limit);

  /** Requests in the stores this instance owns (RocksDB's estimate). */
  long approximateCount();

  /** Live event streams served from this instance's stores. */
  int liveFollowers();
}
