// Wires the identity role (Ironclad.Identity + ControlPlane/Identity) into `ironclad server`: its
// services and, on first start, the bootstrap tenant, subscription and administrator. Invariants:
// the root key DIR/keys/identity-root.key (32 bytes, 0600) seals every signing key and the bootstrap
// record; the bootstrap secret is stored only sealed, so each start can re-publish it in
// endpoints.json; the bootstrap runs before the listener opens.
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ironclad.Crypto.Sealing;
using Ironclad.Host.Data;
using Ironclad.Host.Tls;
using Ironclad.Identity;
using Ironclad.Identity.Signing;
using Ironclad.Identity.Store;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class IdentityRole
{
    public const string RootKeyFileName = "identity-root.key";
    private const string BootstrapSetting = "host.bootstrap";
    private static readonly byte[] BootstrapAssociatedData = Encoding.UTF8.GetBytes("identity:" + BootstrapSetting);

    /// <summary>The bootstrap administrator's secret outlives any realistic deployment; `ad sp credential reset` replaces it.</summary>
    private static readonly TimeSpan BootstrapSecretLifetime = TimeSpan.FromDays(3650);

    public static string RootKeyPath(DataDirectory dataDirectory) => Path.Combine(dataDirectory.FullPath, "keys", RootKeyFileName);

    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory, TlsMaterial tls)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        _ = tls;
        var options = new IdentityOptions
        {
            TokenLifetime = settings.AccessTokenLifetime,
            ClockSkew = settings.AccessTokenClockSkew,
        };
        if (settings.Port != 0)
        {
            options.AuthorityHost = ServerRunner.BaseUrl(settings.BindAddress, settings.Port);
        }

        services.AddSingleton(options);
        services.AddSingleton(_ => new IdentityRootKey(SealingKeyFile.LoadOrCreate(RootKeyPath(dataDirectory))));
        services.AddSingleton<IIdentityStore>(provider => new SqliteIdentityStore(provider.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton(provider => new SigningKeys(
            provider.GetRequiredService<IIdentityStore>(), provider.GetRequiredService<IdentityRootKey>().Sealer,
            options, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => new IdentityProvider(
            provider.GetRequiredService<IIdentityStore>(), provider.GetRequiredService<SigningKeys>(),
            options, provider.GetRequiredService<TimeProvider>()));
        // The platform credential (managed identities' tokens): created once, here, for platform
        // components only (later: the compute provider's disk-encryption-set worker). No endpoint
        // group may depend on it; the HTTP token endpoint refuses managed identities.
        services.AddSingleton(provider => provider.GetRequiredService<IdentityProvider>().CreatePlatformCredential());
    }

    /// <summary>
    /// First start: creates the tenant, the administrator service principal with a secret and the
    /// subscription id, and records them sealed. Every start: asks Resource Manager (if it runs) to
    /// make the subscription exist with the administrator as Owner, and returns the record.
    /// </summary>
    public static BootstrapRecord Bootstrap(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var store = services.GetRequiredService<IIdentityStore>();
        var sealer = services.GetRequiredService<IdentityRootKey>().Sealer;
        var identity = services.GetRequiredService<IdentityProvider>();
        var time = services.GetRequiredService<TimeProvider>();

        BootstrapRecord record;
        if (store.GetSetting(BootstrapSetting) is { } sealedRecord)
        {
            if (!sealer.TryUnseal(sealedRecord, BootstrapAssociatedData, out var json))
            {
                throw new StartupException($"the bootstrap record cannot be unsealed: the identity root key ({RootKeyFileName}) does not belong to this metadata database");
            }

            record = JsonSerializer.Deserialize(json, BootstrapJsonContext.Default.BootstrapRecord)
                ?? throw new StartupException("the bootstrap record in the metadata database is empty");
        }
        else
        {
            var tenant = identity.CreateTenant("Ironclad");
            var administrator = identity.CreateServicePrincipal(tenant.TenantId, "ironclad-administrator");
            var (_, secret) = identity.AddSecret(administrator.ObjectId, "bootstrap", time.GetUtcNow() + BootstrapSecretLifetime);
            record = new BootstrapRecord(tenant.TenantId, Guid.NewGuid(), administrator.AppId, administrator.ObjectId, secret);
            store.SetSetting(BootstrapSetting, sealer.Seal(JsonSerializer.SerializeToUtf8Bytes(record, BootstrapJsonContext.Default.BootstrapRecord), BootstrapAssociatedData));
        }

        identity.SetDirectoryAdministrator(record.TenantId, record.AdministratorObjectId);
        services.GetService<IResourceManagerBootstrap>()?.EnsureSubscription(record.TenantId, record.SubscriptionId, "Ironclad subscription", record.AdministratorObjectId);
        return record;
    }
}

/// <summary>The identity role's root sealing key (a DI-distinct type, so other roles may register their own).</summary>
internal sealed class IdentityRootKey(Sealer sealer) : IDisposable
{
    public Sealer Sealer { get; } = sealer;

    public void Dispose() => Sealer.Dispose();
}

/// <summary>What the first start created; <see cref="ClientSecret"/> is stored only sealed.</summary>
internal sealed record BootstrapRecord(Guid TenantId, Guid SubscriptionId, Guid ClientId, Guid AdministratorObjectId, string ClientSecret);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(BootstrapRecord))]
internal sealed partial class BootstrapJsonContext : JsonSerializerContext;
