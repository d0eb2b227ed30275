package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.reelay.protocol.Action;
import io.reelay.protocol.SessionSnapshot;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class StateCipherTest {

  private final String key = StateCipher.newKey();
  private final StateCipher cipher = StateCipher.fromBase64(key);

  @Test
  void roundTripsAndNeverShowsThePlainToken() {
    String sealed = cipher.encrypt("nmv_usr_SECRET", "acme", "session-1");
    assertThat(sealed).startsWith("v2:").doesNotContain("SECRET");
    assertThat(cipher.decrypt(sealed, "acme", "session-1")).isEqualTo("nmv_usr_SECRET");
    assertThat(cipher.encrypt("nmv_usr_SECRET", "acme", "session-1")).isNotEqualTo(sealed); // fresh IV each time
  }

  @Test
  void anotherSessionOrAnotherKeyCannotDecrypt() {
    String sealed = cipher.encrypt("nmv_usr_SECRET", "acme", "session-1");
    assertThatThrownBy(() -> cipher.decrypt(sealed, "acme", "session-2")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StateCipher.fromBase64(StateCipher.newKey()).decrypt(sealed, "acme", "session-1"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("REELAY_STATE_KEY");
    assertThatThrownBy(() -> StateCipher.fromBase64("c2hvcnQ=")).hasMessageContaining("32 bytes");
  }

  @Test
  void anotherTenantsSessionOfTheSameKeyCannotDecrypt() {
    String sealed = cipher.encrypt("nmv_usr_SECRET", "acme", "shared");
    assertThat(cipher.decrypt(sealed, "acme", "shared")).isEqualTo("nmv_usr_SECRET");
    assertThatThrownBy(() -> cipher.decrypt(sealed, "globex", "shared")).isInstanceOf(IllegalArgumentException.class);
    // the pair is encoded unambiguously: moving characters between tenant and session key does not help
    String split = cipher.encrypt("nmv_usr_SECRET", "ab", "c");
    assertThatThrownBy(() -> cipher.decrypt(split, "a", "bc")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cipher.decrypt(split, "ab\u0000", "c")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anOlderWorkersValueBoundToTheSessionKeyAloneIsRefused() throws Exception {
    String v1 = sealedTheOldWay("nmv_usr_SECRET", "session-1");
    assertThatThrownBy(() -> cipher.decrypt(v1, "default", "session-1"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("older worker");
  }

  @Test
  void aSnapshotTokenThatDoesNotDecryptForThisTenantsSessionMeansSigningInAgain() throws Exception {
    Instant now = Instant.parse("2026-12-01T10:00:00Z");
    String mine = cipher.encrypt("nmv_usr_MINE", "acme", "shared");
    BackendIdentity acme = identity("acme");
    assertThat(acme.restore(snapshot("acme", mine, now))).isTrue();
    assertThat(acme.token().reveal()).isEqualTo("nmv_usr_MINE");
    assertThat(acme.need(Action.STATE, false, now)).isEqualTo(BackendIdentity.Need.NOTHING);

    // acme's ciphertext copied into globex's snapshot of the same session key, and a snapshot from before the upgrade
    BackendIdentity globex = identity("globex");
    assertThat(globex.restore(snapshot("globex", mine, now))).isFalse();
    assertThat(globex.token()).isNull();
    assertThat(globex.need(Action.STATE, false, now)).isEqualTo(BackendIdentity.Need.TOKEN);
    BackendIdentity upgraded = identity("default");
    assertThat(upgraded.restore(snapshot("default", sealedTheOldWay("nmv_usr_OLD", "shared"), now))).isFalse();
    assertThat(upgraded.need(Action.STATE, false, now)).isEqualTo(BackendIdentity.Need.TOKEN);
    assertThat(upgraded.backendSessionId()).isEqualTo("1234567890123456789"); // the rest of the identity is kept
  }

  private BackendIdentity identity(String tenant) {
    return new BackendIdentity("reelay", tenant, "shared", cipher, Optional.empty(), Duration.ofMinutes(5));
  }

  private static SessionSnapshot snapshot(String tenant, String encryptedToken, Instant now) {
    return new SessionSnapshot(SessionSnapshot.VERSION, "shared", tenant, "reelay-x", "user-1", "1234567890123456789",
        "task-1", "en", encryptedToken, now.plus(Duration.ofDays(7)), null, null, null, null, now);
  }

  /** What a worker before tenant binding wrote: {@code v1:}, the session key alone as associated data. */
  private String sealedTheOldWay(String secret, String sessionKey) throws Exception {
    byte[] iv = new byte[12];
    new SecureRandom().nextBytes(iv);
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(Base64.getDecoder().decode(key), "AES"), new GCMParameterSpec(128, iv));
    c.updateAAD(sessionKey.getBytes(StandardCharsets.UTF_8));
    byte[] ct = c.doFinal(secret.getBytes(StandardCharsets.UTF_8));
    return "v1:" + Base64.getEncoder().encodeToString(ByteBuffer.allocate(iv.length + ct.length).put(iv).put(ct).array());
  }
}
