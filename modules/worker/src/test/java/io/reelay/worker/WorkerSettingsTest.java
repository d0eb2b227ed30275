package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkerSettingsTest {

  private static final String STRATEGY = "reelay.worker.kafka-consumer.\"partition.assignment.strategy\"";

  @Test
  void workersRebalanceIncrementallyByDefault() {
    WorkerSettings s = WorkerSettings.from(ConfigFactory.load());
    assertThat(s.consumerProperties())
        .containsEntry("partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
  }

  @Test
  void anEagerAssignorIsRefusedWithWhatToUseInstead() {
    assertThatThrownBy(() -> WorkerSettings.from(ConfigFactory.parseMap(Map.of(STRATEGY,
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor,org.apache.kafka.clients.consumer.RangeAssignor"))
        .withFallback(ConfigFactory.load())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("RangeAssignor rebalances eagerly")
        .hasMessageContaining("CooperativeStickyAssignor");
    assertThatThrownBy(() -> WorkerSettings.from(ConfigFactory.parseMap(Map.of(STRATEGY, "com.example.NoSuchAssignor"))
        .withFallback(ConfigFactory.load())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot load com.example.NoSuchAssignor");
  }

  @Test
  void autoGivesSessionsSixTenthsOfTheHeapWithinTheOpenFileLimit() {
    long gib = 1L << 30;
    // -Xmx1g, 20,000 open files: the heap decides, and the capacity goal of 15,000 fits
    assertThat(Capacity.auto(gib, 20_000, 16_384, 256)).isEqualTo(15_728);
    // a bigger heap: the files left after the reserve and the call pool, then the stream pool
    assertThat(Capacity.auto(4 * gib, 20_000, 32_768, 256)).isEqualTo(20_000 - 1024 - 256);
    assertThat(Capacity.auto(4 * gib, 1 << 20, 16_384, 256)).isEqualTo(16_384);
    assertThat(Capacity.auto(4 * gib, Long.MAX_VALUE, Integer.MAX_VALUE, 0)).isEqualTo(62_914);
    // never below one
    assertThat(Capacity.auto(1L << 20, 1024, 16_384, 256)).isEqualTo(1);
  }

  @Test
  void maxActiveRequestsIsAutoByDefaultAndANumberWhenGiven() {
    assertThat(WorkerSettings.maxActiveRequests(ConfigFactory.load(), 1L << 30, 20_000)).isEqualTo(15_728);
    assertThat(WorkerSettings.from(ConfigFactory.load()).maxActiveRequests())
        .isEqualTo(Capacity.auto(Runtime.getRuntime().maxMemory(), WorkerSettings.openFileLimit(), 16_384, 256));
    // REELAY_MAX_ACTIVE arrives as a string
    assertThat(WorkerSettings.from(ConfigFactory.parseMap(Map.of("reelay.worker.max-active-requests", "300"))
        .withFallback(ConfigFactory.load())).maxActiveRequests()).isEqualTo(300);
    assertThat(WorkerSettings.from(ConfigFactory.parseMap(Map.of("reelay.worker.max-active-requests", 2))
        .withFallback(ConfigFactory.load())).maxActiveRequests()).isEqualTo(2);
    assertThatThrownBy(() -> WorkerSettings.from(ConfigFactory.parseMap(Map.of("reelay.worker.max-active-requests", "lots"))
        .withFallback(ConfigFactory.load())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be a number or auto");
  }

  @Test
  void theConsumerProtocolLeavesAssignmentToTheBroker() {
    WorkerSettings s = WorkerSettings.from(ConfigFactory.parseMap(Map.of(
            "reelay.worker.kafka-consumer.\"group.protocol\"", "consumer",
            STRATEGY, "org.apache.kafka.clients.consumer.RangeAssignor"))
        .withFallback(ConfigFactory.load()));
    assertThat(s.consumerProperties()).doesNotContainKey("partition.assignment.strategy");
  }
}
