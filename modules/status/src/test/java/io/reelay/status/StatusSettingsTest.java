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
    assertThat(s.producerProperties()).containsEntry("linger.ms", "5");
    // the stores keep a request as long as the events topic keeps its events, with one standby copy
    assertThat(s.store().retention()).isEqualTo(Duration.ofDays(7));
    assertThat(s.store().standbyReplicas()).isEqualTo(1);
    assertThat(s.store().stateDir()).isEqualTo(java.nio.file.Path.of("var/status"));
    assertThat(s.store().streamsProperties()).containsEntry("auto.offset.reset", "earliest");
    assertThat(s.store().toString()).contains("peerKey=(random)");
    assertThat(s.mediaLinks().key()).isNull(); // a random key per process
    assertThat(s.mediaLinks().ttl()).isEqualTo(Duration.ofHours(1));
    assertThat(s.mediaLinks().upstreamTimeout()).isLessThan(s.requestTimeout());
  }

  @Test
  void aMediaLinkKeyIsBase64OfThirtyTwoBytesAndNeverShown() {
    String key = "4OHi4+Tl5ufo6err7O3u7/Dx8vP09fb3+Pn6+/z9/v8="; // base64 of 32 bytes (with + and /)
    StatusSettings s = StatusSettings.from(ConfigFactory.parseMap(Map.of("media-links.key", key))
        .withFallback(ConfigFactory.defaultReference().getConfig("reelay.status")).resolve());
    assertThat(s.mediaLinks().key()).hasSize(32);
    assertThat(s.toString()).doesNotContain(key).contains("key=set");
    // the same key signs the same links in two instances (a fleet); random keys do not
    java.time.Instant now = java.time.Instant.now();
    StatusQueries view = null; // a link is made without looking anything up
    assertThat(new MediaLinks(s.mediaLinks(), view).link("t", "r", now))
        .isEqualTo(new MediaLinks(s.mediaLinks(), view).link("t", "r", now));
    MediaLinks.Settings random = StatusSettings.defaults().mediaLinks();
    assertThat(new MediaLinks(random, view).link("t", "r", now)).isNotEqualTo(new MediaLinks(random, view).link("t", "r", now));
    // url-safe base64 is read too
    assertThat(MediaLinks.parseKey(key.replace('+', '-').replace('/', '_'))).isEqualTo(s.mediaLinks().key());

    for (String bad : new String[] {"c2hvcnQ=", "not base64!", "q2V5LW9mLXRoaXJ0eS10d28tYnl0ZXM"}) {
      assertThatThrownBy(() -> StatusSettings.from(ConfigFactory.parseMap(Map.of("media-links.key", bad))
              .withFallback(ConfigFactory.defaultReference().getConfig("reelay.status")).resolve()))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("REELAY_MEDIA_LINK_KEY")
          .hasMessageContaining("openssl rand -base64 32")
          .hasMessageNotContaining(bad);
    }
  }
}
