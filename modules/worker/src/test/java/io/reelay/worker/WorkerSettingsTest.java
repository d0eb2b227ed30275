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
  void theConsumerProtocolLeavesAssignmentToTheBroker() {
    WorkerSettings s = WorkerSettings.from(ConfigFactory.parseMap(Map.of(
            "reelay.worker.kafka-consumer.\"group.protocol\"", "consumer",
            STRATEGY, "org.apache.kafka.clients.consumer.RangeAssignor"))
        .withFallback(ConfigFactory.load()));
    assertThat(s.consumerProperties()).doesNotContainKey("partition.assignment.strategy");
  }
}
