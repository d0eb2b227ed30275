package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Event;
import io.reelay.protocol.RequestState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A worker holds at most {@code max-active-requests} requests: a backlog stays in Kafka (the
 * partitions pause) instead of piling up in memory, and drains as requests finish.
 */
class CapacityTest {

  @Test
  void aBacklogWaitsInKafkaAndNeverMoreThanTheLimitRunsAtOnce() throws Exception {
    try (WorkerHarness h = new WorkerHarness(Map.of(
        "reelay.worker.max-active-requests", 2,
        "nemo-sim.time-scale", 0.01))) {
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        String s = "cap-" + UUID.randomUUID();
        ids.add("g-" + s);
        h.request(s, "g-" + s, "\"text\":\"a lighthouse in a storm, take " + i + "\"");
      }
      AtomicInteger mostInHand = new AtomicInteger();
      Thread sampler = new Thread(() -> {
        while (!Thread.currentThread().isInterrupted()) {
          mostInHand.accumulateAndGet(h.worker.requestsInHand(), Math::max);
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      sampler.start();
      List<Instant[]> spans = new ArrayList<>();
      try {
        for (String id : ids) {
          List<Event> events = h.eventsUntilTerminal(id);
          assertThat(events.get(events.size() - 1).state()).as("%s: %s", id, events).isEqualTo(RequestState.COMPLETED);
          spans.add(new Instant[] {events.get(0).at(), events.get(events.size() - 1).at()});
        }
      } finally {
        sampler.interrupt();
        sampler.join();
      }
      assertThat(mostInHand.get()).isEqualTo(2);
      // from the events alone: a request is accepted (QUEUED) only after another one ended
      assertThat(mostOverlapping(spans)).isEqualTo(2);
    }
  }

  private static int mostOverlapping(List<Instant[]> spans) {
    int most = 0;
    for (Instant[] s : spans) {
      int at = 0;
      for (Instant[] o : spans) {
        if (!o[0].isAfter(s[0]) && o[1].isAfter(s[0])) {
          at++;
        }
      }
      most = Math.max(most, at);
    }
    return most;
  }
}
