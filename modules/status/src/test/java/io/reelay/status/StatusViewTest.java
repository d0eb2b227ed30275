package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class StatusViewTest {

  static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @Test
  void keepsTheLatestStatusAndIgnoresDuplicatesAndOlderEvents() {
    StatusView view = new StatusView(100, 100, 16);
    assertThat(view.apply(event("r1", "s1", "t", 1, RequestState.QUEUED), Instant.now())).isEqualTo(StatusView.Applied.NEW);
    assertThat(view.apply(event("r1", "s1", "t", 3, RequestState.RUNNING), Instant.now())).isEqualTo(StatusView.Applied.UPDATED);
    assertThat(view.apply(event("r1", "s1", "t", 3, RequestState.RUNNING), Instant.now())).isEqualTo(StatusView.Applied.IGNORED);
    assertThat(view.apply(event("r1", "s1", "t", 2, RequestState.QUEUED), Instant.now())).isEqualTo(StatusView.Applied.IGNORED);

    StatusView.RequestStatus s = view.status("t", "r1").orElseThrow();
    assertThat(s.latest().seq()).isEqualTo(3);
    assertThat(s.latest().state()).isEqualTo(RequestState.RUNNING);
    assertThat(s.updatedAt()).isEqualTo(s.latest().at());
    assertThat(view.history("t", "r1")).extracting(Event::seq).containsExactly(1L, 3L);
    assertThat(view.count(RequestState.RUNNING)).isEqualTo(1);
    assertThat(view.count(RequestState.QUEUED)).isZero();
    assertThat(view.status("t", "nope")).isEmpty();
  }

  @Test
  void listsByTenantSessionAndStateLatestFirst() {
    StatusView view = new StatusView(100, 100, 16);
    view.apply(event("a", "s1", "t1", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("b", "s1", "t1", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("c", "s2", "t1", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("d", "s1", "t2", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("a", "s1", "t1", 2, RequestState.COMPLETED), Instant.now());

    assertThat(view.list("t1", "s1", null, 10)).extracting(StatusView.RequestStatus::requestId).containsExactly("a", "b");
    assertThat(view.list("t1", null, RequestState.QUEUED, 10)).extracting(StatusView.RequestStatus::requestId).containsExactly("c", "b");
    assertThat(view.list("t1", null, null, 2)).hasSize(2);
    assertThat(view.list("t2", null, null, 10)).extracting(StatusView.RequestStatus::requestId).containsExactly("d");
  }

  @Test
  void evictsTheOldestFinishedRequestsFirstAndBoundsHistory() {
    StatusView view = new StatusView(3, 3, 16);
    view.apply(event("live", "s", "t", 1, RequestState.RUNNING), Instant.now());
    view.apply(event("done1", "s", "t", 1, RequestState.COMPLETED), Instant.now());
    view.apply(event("done2", "s", "t", 1, RequestState.FAILED), Instant.now());
    view.apply(event("new", "s", "t", 1, RequestState.QUEUED), Instant.now());
    assertThat(view.size()).isEqualTo(3);
    assertThat(view.status("t", "done1")).isEmpty();
    assertThat(view.status("t", "live")).isPresent();

    for (int seq = 2; seq <= 10; seq++) {
      view.apply(event("live", "s", "t", seq, RequestState.RUNNING), Instant.now());
    }
    assertThat(view.history("t", "live")).extracting(Event::seq).containsExactly(8L, 9L, 10L);
  }

  @Test
  void followDeliversHistoryThenLiveAndCompletesAfterTheTerminalEvent() throws Exception {
    StatusView view = new StatusView(100, 100, 16);
    view.apply(event("r", "s", "t", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("r", "s", "t", 2, RequestState.RUNNING), Instant.now());

    CompletionStage<List<Event>> all = view.follow("t", "r", Long.MIN_VALUE).runWith(Sink.seq(), testKit.system());
    CompletionStage<List<Event>> resumed = view.follow("t", "r", 2).runWith(Sink.seq(), testKit.system());
    awaitFollowers(view, 2);

    view.apply(event("r", "s", "t", 3, RequestState.RUNNING), Instant.now());
    view.apply(event("r", "s", "t", 4, RequestState.COMPLETED), Instant.now());
    view.apply(event("r", "s", "t", 5, RequestState.COMPLETED), Instant.now()); // after the end: not delivered

    assertThat(all.toCompletableFuture().get(5, TimeUnit.SECONDS)).extracting(Event::seq).containsExactly(1L, 2L, 3L, 4L);
    assertThat(resumed.toCompletableFuture().get(5, TimeUnit.SECONDS)).extracting(Event::seq).containsExactly(3L, 4L);
    assertThat(view.followers()).isZero();

    // a finished request: its history, then the end
    List<Event> replay =
        view.follow("t", "r", Long.MIN_VALUE).runWith(Sink.seq(), testKit.system()).toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertThat(replay).extracting(Event::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
    // unknown: ends at once
    assertThat(view.follow("t", "nope", 0).runWith(Sink.seq(), testKit.system()).toCompletableFuture().get(5, TimeUnit.SECONDS)).isEmpty();
  }

  @Test
  void theSameRequestIdInTwoTenantsIsTwoRequestsNeitherShadowingTheOther() throws Exception {
    StatusView view = new StatusView(100, 100, 16);
    view.apply(event("same", "s", "b", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("same", "s", "b", 2, RequestState.COMPLETED), Instant.now());
    // tenant a reuses b's finished requestId (and its sessionKey), with seqs that would shadow b's
    view.apply(event("same", "s", "a", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("same", "s", "a", 3, RequestState.RUNNING), Instant.now());

    assertThat(view.status("b", "same").orElseThrow().latest().state()).isEqualTo(RequestState.COMPLETED);
    assertThat(view.status("a", "same").orElseThrow().latest().state()).isEqualTo(RequestState.RUNNING);
    assertThat(view.history("a", "same")).extracting(Event::tenant).containsOnly("a");
    assertThat(view.history("b", "same")).extracting(Event::seq).containsExactly(1L, 2L);
    List<Event> bReplay =
        view.follow("b", "same", Long.MIN_VALUE).runWith(Sink.seq(), testKit.system()).toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertThat(bReplay).extracting(Event::tenant).containsOnly("b");
    assertThat(view.list("a", "s", null, 10)).extracting(StatusView.RequestStatus::tenant).containsExactly("a");
    assertThat(view.list("b", null, null, 10)).extracting(StatusView.RequestStatus::tenant).containsExactly("b");
    assertThat(view.size()).isEqualTo(2);
  }

  @Test
  void aListingReadsOnlyItsTenantsIndexAndStopsAtTheLimit() {
    StatusView view = new StatusView(100, 10_000, 16);
    for (int i = 0; i < 5_000; i++) {
      view.apply(event("other-" + i, "s", "big", 1, RequestState.QUEUED), Instant.now());
    }
    view.apply(event("mine-1", "s", "small", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("mine-2", "s", "small", 1, RequestState.QUEUED), Instant.now());
    view.apply(event("mine-1", "s", "small", 2, RequestState.RUNNING), Instant.now());
    assertThat(view.list("small", null, null, 10)).extracting(StatusView.RequestStatus::requestId).containsExactly("mine-1", "mine-2");
    assertThat(view.list("big", null, null, 3)).extracting(StatusView.RequestStatus::requestId)
        .containsExactly("other-4999", "other-4998", "other-4997");
    assertThat(view.list("nobody", null, null, 10)).isEmpty();
  }

  static void awaitFollowers(StatusView view, int n) {
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> view.followers() == n);
  }
}
