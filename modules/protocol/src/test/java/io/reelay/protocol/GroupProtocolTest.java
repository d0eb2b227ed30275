package io.reelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class GroupProtocolTest {

  private static final Map<String, String> DEFAULTS =
      Map.of("session.timeout.ms", "10000", "heartbeat.interval.ms", "1000", "auto.offset.reset", "earliest");

  @Test
  void classicGroupsKeepTheirSettings() {
    assertThat(GroupProtocol.compatible(DEFAULTS)).isEqualTo(DEFAULTS);
    Map<String, String> classic = Map.of("group.protocol", "classic", "session.timeout.ms", "10000");
    assertThat(GroupProtocol.compatible(classic)).isEqualTo(classic);
  }

  @Test
  void theConsumerProtocolDropsWhatOnlyClassicGroupsAccept() {
    Map<String, String> kip848 = new java.util.HashMap<>(DEFAULTS);
    kip848.put("group.protocol", " CONSUMER ");
    kip848.put("partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
    assertThat(GroupProtocol.compatible(kip848))
        .containsOnlyKeys("group.protocol", "auto.offset.reset");
  }
}
