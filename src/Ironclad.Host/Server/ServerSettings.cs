// What `ironclad server` was asked to do, after parsing and validation: an absolute data directory,
// HTTPS and NBD ports in 0..65535 (0 = let the OS choose), a parsed bind address and the NBD TLS
// mode (Off only with a loopback bind address); the vault data-plane port range (First <= Last, 1..65535),
// the access-token lifetime (>= 1 s) and the clock skew token validation tolerates (>= 0); HSM mode
// (a PKCS#11 module and token label, the PIN only as a file path, never the PIN itself) or null; the
// periodic key re-check of open disks (>= 1 s).
using System.Net;
using Ironclad.Host.Logging;

namespace Ironclad.Host.Server;

internal sealed record ServerSettings(
    string DataDirectory,
    int Port,
    IPAddress BindAddress,
    LogFormat LogFormat,
    int NbdPort = ServerSettings.DefaultNbdPort,
    NbdTls NbdTls = NbdTls.Required,
    PortRange? VaultPorts = null,
    TimeSpan? TokenLifetime = null,
    TimeSpan? TokenClockSkew = null,
    HsmSettings? Hsm = null,
    TimeSpan? KeyRecheck = null)
{
    public static readonly TimeSpan DefaultKeyRecheckInterval = TimeSpan.FromSeconds(300);

    /// <summary>How often every open disk's key access is re-checked through its vault (besides the vault's events).</summary>
    public TimeSpan KeyRecheckInterval => KeyRecheck ?? DefaultKeyRecheckInterval;

    public static readonly PortRange DefaultVaultPorts = new(20000, 20099);
    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromSeconds(3600);
    public static readonly TimeSpan DefaultTokenClockSkew = TimeSpan.FromSeconds(300);

    /// <summary>The loopback ports vaults' data planes are given, one per vault.</summary>
    public PortRange VaultPortRange => VaultPorts ?? DefaultVaultPorts;

    /// <summary>exp - iat of every access token the identity role issues.</summary>
    public TimeSpan AccessTokenLifetime => TokenLifetime ?? DefaultTokenLifetime;

    /// <summary>Tolerance on nbf/exp when validating a bearer token.</summary>
    public TimeSpan AccessTokenClockSkew => TokenClockSkew ?? DefaultTokenClockSkew;

    public const int DefaultPort = 8443;

    // ── Platform keys (--platform-key-rotation-days) ──
    public static readonly TimeSpan DefaultPlatformKeyRotation = TimeSpan.FromDays(90);

    /// <summary>How old a region's platform key version may get before the server rotates it (and re-wraps its disks' DEKs).</summary>
    public TimeSpan PlatformKeyRotation { get; init; } = DefaultPlatformKeyRotation;

    /// <summary>The port IANA assigned to NBD.</summary>
    public const int DefaultNbdPort = 10809;
    public const string DefaultDataDirectory = "./.ironclad";
    public static readonly IPAddress DefaultBindAddress = IPAddress.Loopback;
}

/// <summary>An inclusive TCP port range, written "FIRST-LAST" (e.g. 20000-20099).</summary>
internal sealed record PortRange(int First, int Last)
{
    public int Count => Last - First + 1;

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{First}-{Last}");
}

/// <summary>
/// HSM mode for the Key Vault's root of trust: the PKCS#11 module, the token's label and where the
/// user PIN is (a file; when <see cref="PinFile"/> is null, the IRONCLAD_HSM_PIN environment variable).
/// Holds no PIN, so it may be logged or shown.
/// </summary>
internal sealed record HsmSettings(string ModulePath, string TokenLabel, string? PinFile)
{
    /// <summary>The environment variable that holds the PIN when no --hsm-pin-file is given.</summary>
    public const string PinVariable = "IRONCLAD_HSM_PIN";
}
