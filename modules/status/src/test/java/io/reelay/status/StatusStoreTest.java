package io.reelay.status;

import static io.reelay.status.Events.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.reelay.protocol.Event;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The status topology and its stores, run by Kafka Streams' test driver: what every instance computes for its partitions. */
class StatusStoreTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  private final List<TestStore> stores = new ArrayList<>();

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @AfterEach
  void close() {
    stores.forEach(TestStore::close);
  }

  private TestStore store() {
    return store(100, Duration.ofDays(7));
  }

  private TestStore store(int maxHistory, Duration retention) {
    TestStore s = new TestStore(maxHistory, 16, 256 * 1024, retention);
    stores.add(s);
    return s;
  }

  private static Event at(String id, String session, String tenant, long seq, RequestState state, String when) {
    Event e = event(id, session, tenant, seq, state);
    return new Event(e.v(), id, session, tenant, seq, Instant.parse(when), state, e.phase(), e.message(), e.progress(), null, null);
  }

  private static List<Event> history(TestStore s, String tenant, String id) throws Exception {
    return s.queries().follow(tenant, id, Long.MIN_VALUE, false).toCompletableFuture().get().orElseThrow()
        .takeWithin(Duration.ofMillis(300)).runWith(Sink.seq(), testKit.system()).toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  @Test
  void keepsTheLatestStatusAndIgnoresDuplicatesAndOlderEvents() throws Exception {
    TestStore s = store();
    s.apply(event("r1", "s1", "t", 1, RequestState.QUEUED), Instant.now());
    s.apply(event("r1", "s1", "t", 3, RequestState.RUNNING), Instant.now());
    s.apply(event("r1", "s1", "t", 3, RequestState.RUNNING), Instant.now());
    s.apply(event("r1", "s1", "t", 2, RequestState.QUEUED), Instant.now());

    RequestStatus st = s.status("t", "r1").orElseThrow();
    assertThat(st.latest().seq()).isEqualTo(3);
    assertThat(st.latest().state()).isEqualTo(RequestState.RUNNING);
    assertThat(st.updatedAt()).isEqualTo(st.latest().at());
    assertThat(st.eventCount()).isEqualTo(2);
    assertThat(history(s, "t", "r1")).extracting(Event::seq).containsExactly(1L, 3L);
    assertThat(s.counted("reelay_status_events_ignored", "duplicate")).isEqualTo(2);
    assertThat(s.status("t", "nope")).isEmpty();
  }

  @Test
  void unreadableAndMiskeyedRecordsAreCountedAndSkippedAndTheStreamGoesOn() {
    TestStore s = store();
    s.applyRaw("t/r1", "{not json".getBytes(StandardCharsets.UTF_8));
    s.applyRaw("t/r1", null);
    // an event under another key would live in a partition no query for t/r1 looks at
    s.applyRaw("r1", io.reelay.protocol.Json.bytes(event("r1", "s", "t", 1, RequestState.QUEUED)));
    s.apply(event("r1", "s", "t", 2, RequestState.RUNNING), Instant.now());
    assertThat(s.counted("reelay_status_events_ignored", "unreadable")).isEqualTo(2);
    assertThat(s.counted("reelay_status_events_ignored", "misrouted")).isEqualTo(1);
    assertThat(s.status("t", "r1").orElseThrow().eventCount()).isEqualTo(1);
    assertThat(s.counted("reelay_status_events_consumed", null)).isEqualTo(4);
  }

  @Test
  void historyIsBoundedByCountAndBySizeAndTheLatestIsAlwaysKept() throws Exception {
    TestStore s = store(3, Duration.ofDays(7));
    for (int seq = 1; seq <= 10; seq++) {
      s.apply(event("live", "s", "t", seq, RequestState.RUNNING), Instant.now());
    }
    assertThat(history(s, "t", "live")).extracting(Event::seq).containsExactly(8L, 9L, 10L);
    assertThat(s.status("t", "live").orElseThrow().eventCount()).isEqualTo(10);

    TestStore small = new TestStore(100, 16, 4096, Duration.ofDays(7));
    stores.add(small);
    String big = "x".repeat(1500);
    for (int seq = 1; seq <= 6; seq++) {
      small.apply(new Event(Event.VERSION, "chatty", "s", "t", seq, Instant.now(), RequestState.RUNNING, Phase.GENERATING, big, null,
          null, null), Instant.now());
    }
    List<Event> kept = history(small, "t", "chatty");
    assertThat(kept.size()).isBetween(1, 2);
    assertThat(kept.get(kept.size() - 1).seq()).isEqualTo(6);
  }

  @Test
  void listsByTenantSessionAndStateMostRecentlyUpdatedFirst() throws Exception {
    TestStore s = store();
    s.apply(at("a", "s1", "t1", 1, RequestState.QUEUED, "2030-01-01T00:00:01Z"), Instant.now());
    s.apply(at("b", "s1", "t1", 1, RequestState.QUEUED, "2030-01-01T00:00:02Z"), Instant.now());
    s.apply(at("c", "s2", "t1", 1, RequestState.QUEUED, "2030-01-01T00:00:03Z"), Instant.now());
    s.apply(at("d", "s1", "t2", 1, RequestState.QUEUED, "2030-01-01T00:00:04Z"), Instant.now());
    s.apply(at("a", "s1", "t1", 2, RequestState.COMPLETED, "2030-01-01T00:00:05Z"), Instant.now());

    assertThat(ids(s.queries().list("t1", "s1", null, null, 10))).containsExactly("a", "b");
    assertThat(ids(s.queries().list("t1", null, RequestState.QUEUED, null, 10))).containsExactly("c", "b");
    assertThat(ids(s.queries().list("t1", null, null, null, 10))).containsExactly("a", "c", "b");
    assertThat(ids(s.queries().list("t2", null, null, null, 10))).containsExactly("d");
    assertThat(ids(s.queries().list("nobody", null, null, null, 10))).isEmpty();
    // the update moved a: its old place in the index is gone
    assertThat(s.queries().list("t1", "s1", null, null, 10).toCompletableFuture().get().items()).hasSize(2);
  }

  @Test
  void pagesFollowTheCursorWithoutGapsOrRepeatsAndSayWhenThereIsMore() throws Exception {
    TestStore s = store();
    for (int i = 0; i < 25; i++) {
      s.apply(at("r" + (100 + i), "s", "t", 1, RequestState.QUEUED, "2030-01-01T00:00:00Z"), Instant.now()); // all the same instant
    }
    List<String> seen = new ArrayList<>();
    String after = null;
    int pages = 0;
    do {
      Page p = s.queries().list("t", null, null, after, 10).toCompletableFuture().get();
      p.items().forEach(l -> seen.add(l.status().requestId()));
      after = p.next();
      pages++;
      assertThat(p.hasMore()).isEqualTo(pages < 3);
    } while (after != null);
    assertThat(pages).isEqualTo(3);
    assertThat(seen).hasSize(25).doesNotHaveDuplicates().isSorted(); // ties go by requestId
    // a cursor is opaque to the caller, and a made-up one is refused
    assertThat(Listing.parseCursor(Listing.cursor(Listing.position(Instant.EPOCH, "x")))).isEqualTo(Listing.position(Instant.EPOCH, "x"));
    assertThatThrownBy(() -> Listing.parseCursor("bm90IGEgY3Vyc29y")).isInstanceOf(ApiErrors.ApiException.class)
        .hasMessageContaining("nextAfter");
  }

  @Test
  void aFilteredListingStopsAfterABoundedScanAndResumesWhereItStopped() throws Exception {
    TestStore s = store();
    s.apply(at("wanted-old", "s", "t", 1, RequestState.FAILED, "2030-01-01T00:00:00Z"), Instant.now());
    int others = LocalStatus.SCAN_FACTOR + 150;
    for (int i = 0; i < others; i++) {
      s.apply(at(String.format("other-%04d", i), "s", "t", 1, RequestState.QUEUED, "2030-01-01T00:01:00Z"), Instant.now());
    }
    Page first = s.queries().list("t", null, RequestState.FAILED, null, 1).toCompletableFuture().get();
    assertThat(first.items()).isEmpty();
    assertThat(first.hasMore()).isTrue();
    Page second = s.queries().list("t", null, RequestState.FAILED, first.next(), 1).toCompletableFuture().get();
    assertThat(ids(second)).containsExactly("wanted-old");
    assertThat(second.hasMore()).isFalse();
  }

  @Test
  void theSameRequestIdInTwoTenantsIsTwoRequestsNeitherShadowingTheOther() throws Exception {
    TestStore s = store();
    s.apply(event("same", "s", "b", 1, RequestState.QUEUED), Instant.now());
    s.apply(event("same", "s", "b", 2, RequestState.COMPLETED), Instant.now());
    // tenant a reuses b's finished requestId (and its sessionKey), with seqs that would shadow b's
    s.apply(event("same", "s", "a", 1, RequestState.QUEUED), Instant.now());
    s.apply(event("same", "s", "a", 3, RequestState.RUNNING), Instant.now());

    assertThat(s.status("b", "same").orElseThrow().latest().state()).isEqualTo(RequestState.COMPLETED);
    assertThat(s.status("a", "same").orElseThrow().latest().state()).isEqualTo(RequestState.RUNNING);
    assertThat(history(s, "a", "same")).extracting(Event::tenant).containsOnly("a");
    assertThat(history(s, "b", "same")).extracting(Event::seq).containsExactly(1L, 2L);
    assertThat(s.queries().list("a", "s", null, null, 10).toCompletableFuture().get().items())
        .extracting(l -> l.status().tenant()).containsExactly("a");
    assertThat(s.queries().list("b", null, null, null, 10).toCompletableFuture().get().items())
        .extracting(l -> l.status().tenant()).containsExactly("b");
    // a tenant named like the start of another's prefix reads nothing of it
    s.apply(event("x", "s", "b2", 1, RequestState.QUEUED), Instant.now());
    assertThat(ids(s.queries().list("b", null, null, null, 10))).containsExactly("same");
  }

  @Test
  void followDeliversHistoryThenLiveOnceEachAndCompletesAfterTheTerminalEvent() throws Exception {
    TestStore s = store();
    s.apply(event("r", "s", "t", 1, RequestState.QUEUED), Instant.now());
    s.apply(event("r", "s", "t", 2, RequestState.RUNNING), Instant.now());

    CompletionStage<List<Event>> all = s.queries().follow("t", "r", Long.MIN_VALUE, false).toCompletableFuture().get().orElseThrow()
        .runWith(Sink.seq(), testKit.system());
    CompletionStage<List<Event>> resumed = s.queries().follow("t", "r", 2, false).toCompletableFuture().get().orElseThrow()
        .runWith(Sink.seq(), testKit.system());
    awaitFollowers(s, 2);

    s.apply(event("r", "s", "t", 3, RequestState.RUNNING), Instant.now());
    s.apply(event("r", "s", "t", 4, RequestState.COMPLETED), Instant.now());
    s.apply(event("r", "s", "t", 5, RequestState.COMPLETED), Instant.now()); // after the end: not delivered

    assertThat(all.toCompletableFuture().get(5, TimeUnit.SECONDS)).extracting(Event::seq).containsExactly(1L, 2L, 3L, 4L);
    assertThat(resumed.toCompletableFuture().get(5, TimeUnit.SECONDS)).extracting(Event::seq).containsExactly(3L, 4L);
    assertThat(s.live.count()).isZero();

    // a finished request: its history, then the end
    assertThat(s.queries().follow("t", "r", Long.MIN_VALUE, false).toCompletableFuture().get().orElseThrow()
        .runWith(Sink.seq(), testKit.system()).toCompletableFuture().get(5, TimeUnit.SECONDS))
        .extracting(Event::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
    // unknown: nothing to follow
    assertThat(s.queries().follow("t", "nope", 0, false).toCompletableFuture().get()).isEmpty();
  }

  @Test
  void aJustSubmittedRequestIsFollowedBeforeItIsStored() throws Exception {
    TestStore s = store();
    CompletionStage<List<Event>> early = s.queries().follow("t", "new", Long.MIN_VALUE, true).toCompletableFuture().get().orElseThrow()
        .runWith(Sink.seq(), testKit.system());
    awaitFollowers(s, 1);
    s.apply(event("new", "s", "t", 1, RequestState.QUEUED), Instant.now());
    s.apply(event("new", "s", "t", 2, RequestState.COMPLETED), Instant.now());
    assertThat(early.toCompletableFuture().get(5, TimeUnit.SECONDS)).extracting(Event::seq).containsExactly(1L, 2L);
  }

  @Test
  void whenAPartitionMovesAwayItsLiveStreamsEndSoClientsResumeAtTheNewOwner() throws Exception {
    TestStore s = store();
    s.apply(event("r", "s", "t", 1, RequestState.RUNNING), Instant.now());
    CompletionStage<List<Event>> stream = s.queries().follow("t", "r", Long.MIN_VALUE, false).toCompletableFuture().get().orElseThrow()
        .runWith(Sink.seq(), testKit.system());
    awaitFollowers(s, 1);
    s.live.partitionMoved(1); // another partition: nothing happens
    assertThat(s.live.count()).isEqualTo(1);
    s.close(); // the task closes: the processor hands its partition back
    assertThat(stream.toCompletableFuture().get(5, TimeUnit.SECONDS)).extracting(Event::seq).containsExactly(1L);
  }

  @Test
  void requestsNotUpdatedWithinTheRetentionArePurgedWithTheirIndexEntries() throws Exception {
    TestStore s = store(100, Duration.ofHours(1));
    Instant now = Instant.now();
    s.apply(at("old", "s", "t", 1, RequestState.COMPLETED, now.minus(Duration.ofHours(2)).toString()), now);
    s.apply(at("fresh", "s", "t", 1, RequestState.RUNNING, now.minus(Duration.ofMinutes(40)).toString()), now);
    s.advanceWallClock(Duration.ofMinutes(10)); // the purge runs: old is past the hour, fresh is not yet
    assertThat(s.status("t", "old")).isEmpty();
    assertThat(s.status("t", "fresh")).isPresent();
    assertThat(ids(s.queries().list("t", null, null, null, 10))).containsExactly("fresh");
    assertThat(ids(s.queries().list("t", "s", null, null, 10))).containsExactly("fresh");
    assertThat(s.counted("reelay_status_requests_purged", null)).isEqualTo(1);
  }

  @Test
  void aStoreThatIsMovingAnswers503WithRetryAfterNeverAnError() {
    LocalStatus.Stores moving = new LocalStatus.Stores() {
      @Override
      public org.apache.kafka.streams.state.ReadOnlyKeyValueStore<String, byte[]> requests(int partition) {
        throw new org.apache.kafka.streams.errors.InvalidStateStoreException("rebalancing");
      }

      @Override
      public org.apache.kafka.streams.state.ReadOnlyKeyValueStore<String, String> listing(int partition) {
        throw new org.apache.kafka.streams.errors.InvalidStateStoreException("rebalancing");
      }

      @Override
      public List<Integer> partitions() {
        return List.of(0);
      }

      @Override
      public int partitionOf(String requestKey) {
        return 0;
      }
    };
    LocalStatus local = new LocalStatus(moving, new LiveEvents(4), 10);
    for (CompletionStage<?> answer : List.of(local.status("t", "r"), local.list("t", null, null, null, 10),
        local.follow("t", "r", 0, false))) {
      Throwable failure = answer.toCompletableFuture().handle((v, t) -> t).join();
      org.apache.pekko.http.javadsl.model.HttpResponse r = ApiErrors.forException(failure);
      assertThat(r.status().intValue()).isEqualTo(503);
      assertThat(r.getHeader("Retry-After")).hasValueSatisfying(h -> assertThat(h.value()).isEqualTo("2"));
    }
  }

  @Test
  void mergedPagesKeepOrderDropRepeatsAndStopWhereAPartStopped() {
    RequestStatus a = new RequestStatus(event("a", "s", "t", 1, RequestState.QUEUED), Instant.EPOCH, 1);
    RequestStatus b = new RequestStatus(event("b", "s", "t", 1, RequestState.QUEUED), Instant.EPOCH, 1);
    RequestStatus c = new RequestStatus(event("c", "s", "t", 1, RequestState.QUEUED), Instant.EPOCH, 1);
    RequestStatus d = new RequestStatus(event("d", "s", "t", 1, RequestState.QUEUED), Instant.EPOCH, 1);
    Page one = new Page(List.of(new Page.Listed("1a", a), new Page.Listed("3c", c)), false, null);
    Page two = new Page(List.of(new Page.Listed("2b", b), new Page.Listed("3c", c), new Page.Listed("4d", d)), false, null);
    assertThat(Page.merge(List.of(one, two), 10).items()).extracting(l -> l.status().requestId()).containsExactly("a", "b", "c", "d");
    Page limited = Page.merge(List.of(one, two), 2);
    assertThat(limited.items()).extracting(l -> l.status().requestId()).containsExactly("a", "b");
    assertThat(limited.next()).isEqualTo("2b");
    // a part that stopped at 2b knows nothing past it: the merged page ends there
    Page stopped = new Page(List.of(new Page.Listed("2b", b)), true, "2b");
    Page bounded = Page.merge(List.of(stopped, new Page(List.of(new Page.Listed("1a", a), new Page.Listed("4d", d)), false, null)), 10);
    assertThat(bounded.items()).extracting(l -> l.status().requestId()).containsExactly("a", "b");
    assertThat(bounded.hasMore()).isTrue();
    assertThat(bounded.next()).isEqualTo("2b");
  }

  private static List<String> ids(CompletionStage<Page> page) throws Exception {
    return ids(page.toCompletableFuture().get());
  }

  private static List<String> ids(Page page) {
    return page.items().stream().map(l -> l.status().requestId()).toList();
  }

  static void awaitFollowers(TestStore s, int n) {
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.live.count() == n);
  }
}
