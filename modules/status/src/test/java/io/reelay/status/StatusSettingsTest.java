package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StatusSettingsTest {

  @Test
  void parsesApiKeysAndNeverShowsThem() {
    Map<String, String> keys = StatusSettings.parseApiKeys(" s3cret-a=acme, s3cret-b = globex ,bare-key,");
    assertThat(keys).containsExactly(
        Map.entry("s3cret-a", "acme"), Map.entry("s3cret-b", "globex"), Map.entry("bare-key", "default"));
    assertThat(StatusSettings.parseApiKeys("")).isEmpty();

    StatusSettings s = StatusSettings.defaults().withApiKeys(keys);
    assertThat(s.toString()).doesNotContain("s3cret").contains("3 key(s)");

    assertThatThrownBy(() -> StatusSettings.parseApiKeys("ok=t,hidden-key="))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("#2")
        .hasMessageNotContaining("hidden-key");
  }

  @Test
  void readsTheReferenceDefaults() {
    StatusSettings s =
        StatusSettings.from(
            ConfigFactory.parseString("api-keys = \"k=t\"")
                .withFallback(ConfigFactory.defaultReference().getConfig("reelay.status"))
                .resolve());
    assertThat(s.host()).isEqualTo("127.0.0.1");
    assertThat(s.apiKeys()).containsExactly(Map.entry("k", "t"));
    assertThat(s.sseKeepAlive()).isEqualTo(Duration.ofSeconds(10));
    assertThat(s.consumerProperties()).containsEntry("group.protocol", "consumer").containsEntry("auto.offset.reset", "earliest");
    assertThat(s.producerProperties()).containsEntry("linger.ms", "5");
    assertThat(s.maxRequests()).isPositive();
  }
}
