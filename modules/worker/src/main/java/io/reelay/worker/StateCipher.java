package io.reelay.worker;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts the secrets a session snapshot carries (its backend token) with AES-256-GCM under
 * {@code REELAY_STATE_KEY}. The tenant and the session key are bound in as associated data
 * (length-prefixed, so no two pairs encode alike), so a ciphertext copied into another session's
 * snapshot, or into another tenant's session of the same key, does not decrypt. Format: {@code
 * v2:<base64(iv ‖ ciphertext ‖ tag)>}. Values of the older {@code v1:} format (bound to the session
 * key alone) are refused, not trusted: the session signs in again instead.
 */
public final class StateCipher {

  private static final String PREFIX = "v2:";
  private static final String OLD_PREFIX = "v1:";
  private static final int IV_BYTES = 12;
  private static final int TAG_BITS = 128;

  private final SecretKeySpec key;
  private final SecureRandom random = new SecureRandom();

  private StateCipher(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException("the state key must be 32 bytes (base64 of 32 random bytes), got " + key.length);
    }
    this.key = new SecretKeySpec(key, "AES");
  }

  /** @param base64Key 32 bytes, base64-encoded (e.g. {@code openssl rand -base64 32}) */
  public static StateCipher fromBase64(String base64Key) {
    try {
      return new StateCipher(Base64.getDecoder().decode(base64Key.trim()));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("REELAY_STATE_KEY is not valid: " + e.getMessage()
          + "; generate one with `openssl rand -base64 32`", e);
    }
  }

  /** A fresh random key, base64-encoded. */
  public static String newKey() {
    byte[] k = new byte[32];
    new SecureRandom().nextBytes(k);
    return Base64.getEncoder().encodeToString(k);
  }

  public String encrypt(String secret, String tenant, String sessionKey) {
    try {
      byte[] iv = new byte[IV_BYTES];
      random.nextBytes(iv);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv));
      c.updateAAD(boundTo(tenant, sessionKey));
      byte[] ct = c.doFinal(secret.getBytes(StandardCharsets.UTF_8));
      return PREFIX + Base64.getEncoder().encodeToString(ByteBuffer.allocate(iv.length + ct.length).put(iv).put(ct).array());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM unavailable", e);
    }
  }

  /** @throws IllegalArgumentException when the value was not made by this key for this tenant's session */
  public String decrypt(String sealed, String tenant, String sessionKey) {
    if (sealed != null && sealed.startsWith(OLD_PREFIX)) {
      throw new IllegalArgumentException("the session's state was encrypted by an older worker (v1, not bound to its tenant)");
    }
    if (sealed == null || !sealed.startsWith(PREFIX)) {
      throw new IllegalArgumentException("not an encrypted state value");
    }
    try {
      byte[] all = Base64.getDecoder().decode(sealed.substring(PREFIX.length()));
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, all, 0, IV_BYTES));
      c.updateAAD(boundTo(tenant, sessionKey));
      return new String(c.doFinal(all, IV_BYTES, all.length - IV_BYTES), StandardCharsets.UTF_8);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "cannot decrypt the session's state with this REELAY_STATE_KEY (another key, or another tenant's or session's value)");
    }
  }

  /** The associated data: the tenant and the session key, each preceded by its length in bytes. */
  private static byte[] boundTo(String tenant, String sessionKey) {
    byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
    byte[] s = sessionKey.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + t.length + s.length).putInt(t.length).put(t).putInt(s.length).put(s).array();
  }

  @Override
  public String toString() {
    return "StateCipher[AES-256-GCM, key redacted]";
  }
}
