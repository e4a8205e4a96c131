// IVaultKeyClient over the vault's HTTPS data plane (api-compat.md §1): GET key, POST wrapkey and
// unwrapkey with RSA-OAEP-256, bearer token of the acting identity, and the vault's refusals mapped
// to KeyAccessException. Invariants: plaintext DEK bytes exist only in arrays this class zeroes
// after use (request body, response body); no token, DEK or wrapped value is ever put in a message;
// only loopback https vault origins are called.
using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ironclad.Compute.KeyAccess;

public sealed class VaultKeyClient : IVaultKeyClient
{
    public const string DefaultApiVersion = "7.4";

    private static readonly byte[] WrapBodyPrefix = Encoding.UTF8.GetBytes("{\"alg\":\"" + WrappedKey.DefaultAlgorithm + "\",\"value\":\"");
    private static readonly byte[] BodySuffix = Encoding.UTF8.GetBytes("\"}");

    private readonly HttpClient _http;
    private readonly IVaultAccessTokens _tokens;
    private readonly string _apiVersion;

    public VaultKeyClient(HttpClient http, IVaultAccessTokens tokens, string apiVersion = DefaultApiVersion)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentException.ThrowIfNullOrEmpty(apiVersion);
        _http = http;
        _tokens = tokens;
        _apiVersion = apiVersion;
    }

    private enum Operation
    {
        Get,
        WrapKey,
        UnwrapKey,
        Create,
        Rotate,
    }

    public async Task<VaultKeyProperties> GetKeyAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var body = await SendAsync(principalId, key, Operation.Get, HttpMethod.Get, KeyPath(key) + (key.IsVersioned ? "" : "/"), content: null, cancellationToken);
        return ParseKeyBundle(body, key);
    }

    public async Task<WrappedKey> WrapKeyAsync(Guid principalId, KeyReference key, ReadOnlyMemory<byte> plaintextKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (plaintextKey.IsEmpty)
        {
            throw new ArgumentException("There is no key to wrap.", nameof(plaintextKey));
        }

        var requestBody = OperationBody(plaintextKey.Span);
        try
        {
            var body = await SendAsync(principalId, key, Operation.WrapKey, HttpMethod.Post, KeyPath(key) + "/wrapkey", requestBody, cancellationToken);
            var (kid, value) = ParseOperationResult(body, key);
            return new WrappedKey(kid, WrappedKey.DefaultAlgorithm, value);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(requestBody);
        }
    }

    public async Task<byte[]> UnwrapKeyAsync(Guid principalId, WrappedKey wrapped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (!wrapped.Kid.IsVersioned)
        {
            throw new ArgumentException("A wrapped key names the exact key version that wrapped it.", nameof(wrapped));
        }

        if (wrapped.Algorithm != WrappedKey.DefaultAlgorithm)
        {
            throw new ArgumentException($"Only {WrappedKey.DefaultAlgorithm} wrapped keys are supported, not '{wrapped.Algorithm}'.", nameof(wrapped));
        }

        var requestBody = OperationBody(wrapped.Value);
        byte[]? responseBody = null;
        try
        {
            responseBody = await SendAsync(principalId, wrapped.Kid, Operation.UnwrapKey, HttpMethod.Post, KeyPath(wrapped.Kid) + "/unwrapkey", requestBody, cancellationToken);
            var (_, value) = ParseOperationResult(responseBody, wrapped.Kid);
            return value;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(requestBody);
            if (responseBody is not null)
            {
                CryptographicOperations.ZeroMemory(responseBody);
            }
        }
    }

    public async Task<KeyAccessProbe> ProbeAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        VaultKeyProperties? properties = null;
        var canGet = false;
        try
        {
            properties = await GetKeyAsync(principalId, key, cancellationToken);
            canGet = true;
        }
        catch (KeyAccessException e) when (e.Failure == KeyAccessFailure.PermissionDenied)
        {
        }

        // Wrap a throw-away value (never a real DEK): allowed unless the identity lacks wrapKey.
        var canWrap = false;
        var modulusBytes = properties is null ? 0 : (properties.KeySizeBits + 7) / 8;
        var probeValue = RandomNumberGenerator.GetBytes(32);
        try
        {
            var wrapped = await WrapKeyAsync(principalId, key, probeValue, cancellationToken);
            canWrap = true;
            modulusBytes = wrapped.Value.Length;
        }
        catch (KeyAccessException e) when (e.Failure is KeyAccessFailure.KeyDisabled or KeyAccessFailure.KeyNotValidNow)
        {
            // The vault checked the permission first: the identity has it; the key's state refused.
            canWrap = true;
        }
        catch (KeyAccessException e) when (e.Failure is KeyAccessFailure.PermissionDenied)
        {
        }
        finally
        {
            CryptographicOperations.ZeroMemory(probeValue);
        }

        // Unwrap a ciphertext of the right length that decrypts to nothing valid: the vault authorizes
        // before it decrypts, so 403 Forbidden = no unwrapKey permission, 400 (bad ciphertext) = allowed.
        var canUnwrap = false;
        var unwrapTarget = key.IsVersioned ? key : properties?.Kid ?? key;
        var dummy = new byte[modulusBytes > 0 ? modulusBytes : 256];
        try
        {
            await SendAsync(principalId, unwrapTarget, Operation.UnwrapKey, HttpMethod.Post, KeyPath(unwrapTarget) + "/unwrapkey", OperationBody(dummy), cancellationToken);
            canUnwrap = true;
        }
        catch (KeyAccessException e) when (e.Failure is KeyAccessFailure.KeyDisabled or KeyAccessFailure.KeyNotValidNow
            || (e.Failure == KeyAccessFailure.Other && e.VaultErrorCode == "BadParameter"))
        {
            canUnwrap = true;
        }
        catch (KeyAccessException e) when (e.Failure is KeyAccessFailure.PermissionDenied)
        {
        }

        return new KeyAccessProbe(canGet, canWrap, canUnwrap, properties);
    }

    // ── Key administration (the platform's own keys only; customers manage theirs themselves) ──

    /// <summary>POST keys/{name}/create {"kty":"RSA","key_size":N}: a new key (or a new version of an existing one); returns its kid.</summary>
    public async Task<KeyReference> CreateRsaKeyAsync(Guid principalId, Uri vaultUri, string name, int keySizeBits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vaultUri);
        var key = new KeyReference(vaultUri, name, null);
        var body = Encoding.UTF8.GetBytes($"{{\"kty\":\"RSA\",\"key_size\":{keySizeBits.ToString(CultureInfo.InvariantCulture)},\"key_ops\":[\"wrapKey\",\"unwrapKey\"]}}");
        var answer = await SendAsync(principalId, key, Operation.Create, HttpMethod.Post, KeyPath(key) + "/create", body, cancellationToken);
        return ParseKeyBundle(answer, key).Kid;
    }

    /// <summary>POST keys/{name}/rotate: a new version of the key; returns its kid.</summary>
    public async Task<KeyReference> RotateKeyAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var versionless = key.Versionless();
        var answer = await SendAsync(principalId, versionless, Operation.Rotate, HttpMethod.Post, KeyPath(versionless) + "/rotate", content: null, cancellationToken);
        return ParseKeyBundle(answer, versionless).Kid;
    }

    // ── HTTP ───────────────────────────────────────────────────────────────────────────────────

    /// <summary>keys/{name} or keys/{name}/{version}, relative to the vault origin.</summary>
    private static string KeyPath(KeyReference key) =>
        key.IsVersioned ? $"keys/{Uri.EscapeDataString(key.Name)}/{Uri.EscapeDataString(key.Version!)}" : $"keys/{Uri.EscapeDataString(key.Name)}";

    /// <summary>{"alg":"RSA-OAEP-256","value":"base64url"} as bytes the caller zeroes.</summary>
    private static byte[] OperationBody(ReadOnlySpan<byte> value)
    {
        var encodedLength = Base64Url.GetEncodedLength(value.Length);
        var body = GC.AllocateArray<byte>(WrapBodyPrefix.Length + encodedLength + BodySuffix.Length, pinned: true);
        WrapBodyPrefix.CopyTo(body, 0);
        Base64Url.EncodeToUtf8(value, body.AsSpan(WrapBodyPrefix.Length, encodedLength));
        BodySuffix.CopyTo(body, WrapBodyPrefix.Length + encodedLength);
        return body;
    }

    /// <summary>Sends one call as <paramref name="principalId"/> (one retry with a fresh token after a 401); returns the body of a 200.</summary>
    private async Task<byte[]> SendAsync(Guid principalId, KeyReference key, Operation operation, HttpMethod method, string path, byte[]? content, CancellationToken cancellationToken)
    {
        if (!VaultHttp.IsLoopbackVault(key.VaultUri))
        {
            throw new KeyAccessException(KeyAccessFailure.VaultUnavailable, key.ToString(),
                $"The key '{key}' is not in a vault of this server: vault URLs here are https://127.0.0.1:{{port}}/.");
        }

        var uri = new Uri(key.VaultUri, path + "?api-version=" + _apiVersion);
        for (var attempt = 0; ; attempt++)
        {
            var token = await _tokens.GetTokenAsync(principalId, forceRefresh: attempt > 0, cancellationToken);
            using var request = new HttpRequestMessage(method, uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (content is not null)
            {
                request.Content = new ByteArrayContent(content);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw Unavailable(key, e, e.InnerException is SocketException socket ? socket.SocketErrorCode.ToString() : e.HttpRequestError.ToString());
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw Unavailable(key, e, "timeout");
            }

            using (response)
            {
                var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return body;
                }

                if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0)
                {
                    continue;
                }

                throw Refusal(principalId, key, operation, (int)response.StatusCode, body);
            }
        }
    }

    private static KeyAccessException Unavailable(KeyReference key, Exception e, string reason) =>
        new(KeyAccessFailure.VaultUnavailable, key.ToString(),
            $"The vault {key.VaultUri.GetLeftPart(UriPartial.Authority)} of key '{key}' did not answer ({reason}): it may have been deleted or purged; recover the vault or choose another key.",
            innerException: e);

    private static KeyAccessException Refusal(Guid principalId, KeyReference key, Operation operation, int status, byte[] body)
    {
        var (code, innerCode, vaultMessage) = ParseError(body);
        var permission = operation switch
        {
            Operation.Get => "get",
            Operation.WrapKey => "wrapKey",
            Operation.Create => "create",
            Operation.Rotate => "rotate",
            _ => "unwrapKey",
        };
        var keyUrl = key.ToString();
        var detail = vaultMessage is null ? "" : $" The vault said: {vaultMessage}";
        return (status, innerCode ?? code) switch
        {
            (401, _) => new KeyAccessException(KeyAccessFailure.IdentityRejected, keyUrl,
                $"The vault of key '{keyUrl}' refused the token of identity {principalId:D} (401): the identity may have been deleted or belong to another tenant than the vault.{detail}",
                code),
            (403, "KeyDisabled") => new KeyAccessException(KeyAccessFailure.KeyDisabled, keyUrl,
                $"The key '{keyUrl}' is disabled, so {permission} is refused; enable the key in its vault to restore access.", "KeyDisabled"),
            (403, "KeyExpired") => new KeyAccessException(KeyAccessFailure.KeyNotValidNow, keyUrl,
                $"The key '{keyUrl}' has expired, so {permission} is refused; extend its expiry or use another key version.", "KeyExpired"),
            (403, "KeyNotYetValid") => new KeyAccessException(KeyAccessFailure.KeyNotValidNow, keyUrl,
                $"The key '{keyUrl}' is not valid yet (its activation date is in the future), so {permission} is refused.", "KeyNotYetValid"),
            (403, "KeyOperationForbidden") => new KeyAccessException(KeyAccessFailure.Other, keyUrl,
                $"The key '{keyUrl}' does not allow the operation {permission} (its key_ops); allow wrapKey and unwrapKey on the key.", "KeyOperationForbidden"),
            (403, _) => new KeyAccessException(KeyAccessFailure.PermissionDenied, keyUrl,
                $"The identity {principalId:D} lacks the '{permission}' permission on key '{keyUrl}': grant it get, wrapKey and unwrapKey by an access policy or the Key Vault Crypto Service Encryption User role.",
                innerCode ?? code, permission),
            (404, _) => new KeyAccessException(KeyAccessFailure.KeyNotFound, keyUrl,
                $"The key '{keyUrl}' was not found in its vault (deleted, purged or never created); recover the key or choose another one.{detail}", code),
            _ => new KeyAccessException(KeyAccessFailure.Other, keyUrl,
                $"The vault answered {status.ToString(CultureInfo.InvariantCulture)} {code ?? "(no code)"} to {permission} on key '{keyUrl}'.{detail}", code),
        };
    }

    /// <summary>The vault's error envelope {"error":{"code","message","innererror":{"code"}}}; nulls when absent.</summary>
    private static (string? Code, string? InnerCode, string? Message) ParseError(byte[] body)
    {
        if (body.Length == 0)
        {
            return (null, null, null);
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
            {
                return (null, null, null);
            }

            var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            var inner = error.TryGetProperty("innererror", out var i) && i.ValueKind == JsonValueKind.Object
                && i.TryGetProperty("code", out var ic) && ic.ValueKind == JsonValueKind.String ? ic.GetString() : null;
            return (code, inner, message);
        }
        catch (JsonException)
        {
            return (null, null, null);
        }
    }

    // ── Responses ──────────────────────────────────────────────────────────────────────────────

    private static VaultKeyProperties ParseKeyBundle(byte[] body, KeyReference asked)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var jwk = root.GetProperty("key");
            var kid = ParseKid(jwk.GetProperty("kid").GetString(), asked);
            var modulus = Base64Url.DecodeFromChars(jwk.TryGetProperty("n", out var n) ? n.GetString() ?? "" : "");
            var bits = modulus.Length == 0 ? 0 : ((modulus.Length - 1) * 8) + (32 - int.LeadingZeroCount(modulus[0]));
            var operations = jwk.TryGetProperty("key_ops", out var ops) && ops.ValueKind == JsonValueKind.Array
                ? ops.EnumerateArray().Select(o => o.GetString() ?? "").ToList()
                : [];
            var attributes = root.TryGetProperty("attributes", out var a) ? a : default;
            return new VaultKeyProperties(
                kid,
                jwk.TryGetProperty("kty", out var kty) ? kty.GetString() ?? "" : "",
                bits,
                attributes.ValueKind != JsonValueKind.Object || !attributes.TryGetProperty("enabled", out var enabled) || enabled.GetBoolean(),
                UnixTime(attributes, "nbf"),
                UnixTime(attributes, "exp"),
                operations,
                attributes.ValueKind == JsonValueKind.Object && attributes.TryGetProperty("recoveryLevel", out var level) ? level.GetString() : null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new KeyAccessException(KeyAccessFailure.Other, asked.ToString(), $"The vault's answer for key '{asked}' is not a key bundle.", innerException: e);
        }
    }

    private static DateTimeOffset? UnixTime(JsonElement attributes, string name) =>
        attributes.ValueKind == JsonValueKind.Object && attributes.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeSeconds(value.GetInt64())
            : null;

    /// <summary>{"kid","value"}: the versioned kid used and the decoded value (a fresh array the caller owns).</summary>
    private static (KeyReference Kid, byte[] Value) ParseOperationResult(byte[] body, KeyReference asked)
    {
        string? kidText = null;
        byte[]? value = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("not an object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKid = reader.ValueTextEquals("kid"u8);
                var isValue = reader.ValueTextEquals("value"u8);
                reader.Read();
                if (isKid && reader.TokenType == JsonTokenType.String)
                {
                    kidText = reader.GetString();
                }
                else if (isValue && reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
                {
                    var encoded = reader.ValueSpan;
                    value = GC.AllocateArray<byte>(Base64Url.GetMaxDecodedLength(encoded.Length), pinned: true);
                    var status = Base64Url.DecodeFromUtf8(encoded, value, out _, out var written);
                    if (status != System.Buffers.OperationStatus.Done)
                    {
                        CryptographicOperations.ZeroMemory(value);
                        value = null;
                        throw new FormatException("value is not base64url");
                    }

                    if (written != value.Length)
                    {
                        var exact = GC.AllocateArray<byte>(written, pinned: true);
                        value.AsSpan(0, written).CopyTo(exact);
                        CryptographicOperations.ZeroMemory(value);
                        value = exact;
                    }
                }
                else
                {
                    reader.Skip();
                }
            }

            if (value is null)
            {
                throw new JsonException("no value");
            }

            return (ParseKid(kidText, asked), value);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            if (value is not null)
            {
                CryptographicOperations.ZeroMemory(value);
            }

            throw new KeyAccessException(KeyAccessFailure.Other, asked.ToString(), $"The vault's answer for key '{asked}' is not a key operation result.", innerException: e);
        }
    }

    /// <summary>The vault's kid; it must name the same key as asked (and a version).</summary>
    private static KeyReference ParseKid(string? kidText, KeyReference asked)
    {
        if (!KeyReference.TryParse(kidText, out var kid) || !kid.IsVersioned || !kid.IsSameKey(asked))
        {
            throw new FormatException($"The vault answered kid '{kidText}', which is not a version of '{asked}'.");
        }

        return kid;
    }
}
