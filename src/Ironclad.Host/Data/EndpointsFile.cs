// DIR/endpoints.json: how tools and tests find a running server instead of guessing. Invariants:
// it is written only after the HTTPS and NBD listeners are bound (a reader that sees it can connect at
// once), atomically and with mode 0600 (it will carry a bootstrap secret), and it is removed when
// the server starts and when it stops cleanly, so it never describes a server that is not running.
// Add a field by adding a property to ServerEndpoints; the JSON stays one flat object.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ironclad.Host.Data;

/// <summary>The content of endpoints.json.</summary>
/// <param name="Url">HTTPS base URL of the control plane, e.g. https://127.0.0.1:8443.</param>
/// <param name="Nbd">NBD listener as HOST:PORT (the real port), e.g. 127.0.0.1:10809 or [::1]:10809.</param>
/// <param name="CaCertificate">Absolute path of the local CA certificate (PEM) clients must trust.</param>
/// <param name="Pid">Process id of the server that wrote the file.</param>
/// <param name="TenantId">The bootstrap tenant.</param>
/// <param name="SubscriptionId">The bootstrap subscription (its administrator is Owner).</param>
/// <param name="AuthorityHost">What clients pass as `authorityHost` (= Url).</param>
/// <param name="ClientId">The bootstrap administrator's client (app) id.</param>
/// <param name="ClientSecret">The bootstrap administrator's client secret (why the file is 0600).</param>
/// <param name="VaultPorts">The vault data-plane port range, "FIRST-LAST".</param>
internal sealed record ServerEndpoints(
    string Url, string Nbd, string CaCertificate, int Pid,
    string? TenantId = null, string? SubscriptionId = null, string? AuthorityHost = null,
    string? ClientId = null, string? ClientSecret = null, string? VaultPorts = null);

internal static class EndpointsFile
{
    public static void Write(string path, ServerEndpoints endpoints) =>
        AtomicFile.WriteOwnerOnly(path, JsonSerializer.SerializeToUtf8Bytes(endpoints, EndpointsJsonContext.Default.ServerEndpoints));

    public static void Delete(string path) => File.Delete(path);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(ServerEndpoints))]
internal sealed partial class EndpointsJsonContext : JsonSerializerContext;
