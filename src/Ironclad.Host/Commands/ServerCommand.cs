// `ironclad server`: runs every role in one process on one data directory. This file only turns
// the command line into ServerSettings; validation errors surface as parse errors (exit 2) so a
// malformed port or address, or plain NBD on a non-loopback address, never reaches the server.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ironclad.Host.Logging;
using Ironclad.Host.Server;

namespace Ironclad.Host.Commands;

internal sealed class ServerCommand : Command
{
    public ServerCommand()
        : base("server", "Run the Ironclad server (HTTPS control plane and NBD) on a data directory.")
    {
        Options.Add(DataOption);
        Options.Add(PortOption);
        Options.Add(BindOption);
        Options.Add(NbdPortOption);
        Options.Add(NbdTlsOption);
        Options.Add(LogFormatOption);
        Options.Add(VaultPortsOption);
        Options.Add(TokenLifetimeOption);
        Options.Add(TokenClockSkewOption);
        Options.Add(HsmModuleOption);
        Options.Add(HsmTokenLabelOption);
        Options.Add(HsmPinFileOption);
        Options.Add(KeyRecheckIntervalOption);
        Options.Add(PlatformKeyRotationOption);
        Validators.Add(RefusePlainNbdOffLoopback);
        Validators.Add(RequireHsmOptionsTogether);
        SetAction((parseResult, cancellationToken) =>
            ServerRunner.RunAsync(ToSettings(parseResult), parseResult.InvocationConfiguration.Error, cancellationToken));
    }

    public Option<string> DataOption { get; } = new("--data")
    {
        Description = "Data directory: TLS material, endpoints.json, lock file (created with mode 0700).",
        HelpName = "DIR",
        DefaultValueFactory = _ => ServerSettings.DefaultDataDirectory,
    };

    public Option<int> PortOption { get; } = new("--port")
    {
        Description = "HTTPS port; 0 lets the OS choose (endpoints.json then has the real one).",
        HelpName = "PORT",
        DefaultValueFactory = _ => ServerSettings.DefaultPort,
        CustomParser = ParsePort,
    };

    public Option<int> NbdPortOption { get; } = new("--nbd-port")
    {
        Description = "NBD port; 0 lets the OS choose (endpoints.json then has the real one).",
        HelpName = "PORT",
        DefaultValueFactory = _ => ServerSettings.DefaultNbdPort,
        CustomParser = ParsePort,
    };

    public Option<NbdTls> NbdTlsOption { get; } = new("--nbd-tls")
    {
        HelpName = "required|mutual|off",
        Description = "NBD transport security: required (TLS), mutual (TLS and a client certificate from the local CA) "
            + "or off (plain NBD, only with a loopback --bind).",
        DefaultValueFactory = _ => NbdTls.Required,
    };

    public Option<IPAddress> BindOption { get; } = new("--bind")
    {
        Description = "IP address to listen on: an IP literal such as 127.0.0.1, ::1 or 0.0.0.0.",
        HelpName = "ADDRESS",
        DefaultValueFactory = _ => ServerSettings.DefaultBindAddress,
        CustomParser = ParseBindAddress,
    };

    public Option<LogFormat> LogFormatOption { get; } = new("--log-format")
    {
        Description = "Format of the log lines on stdout (one line per event).",
        DefaultValueFactory = _ => LogFormat.Text,
    };

    public Option<PortRange> VaultPortsOption { get; } = new("--vault-ports")
    {
        Description = "Loopback ports for the vaults' data planes, one per vault, as FIRST-LAST.",
        HelpName = "FIRST-LAST",
        DefaultValueFactory = _ => ServerSettings.DefaultVaultPorts,
        CustomParser = ParsePortRange,
    };

    public Option<TimeSpan> TokenLifetimeOption { get; } = new("--token-lifetime")
    {
        Description = "Lifetime of issued access tokens, in seconds (at least 1).",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => ServerSettings.DefaultTokenLifetime,
        CustomParser = result => ParseSeconds(result, minimumSeconds: 1),
    };

    public Option<TimeSpan> TokenClockSkewOption { get; } = new("--token-clock-skew")
    {
        Description = "Clock skew tolerated when checking a token's nbf and exp, in seconds (0 or more).",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => ServerSettings.DefaultTokenClockSkew,
        CustomParser = result => ParseSeconds(result, minimumSeconds: 0),
    };

    public Option<TimeSpan> KeyRecheckIntervalOption { get; } = new("--key-recheck-interval")
    {
        Description = "How often every open disk's key access is re-checked through its vault, in seconds (at least 1), "
            + "besides the vault's events (key disabled or deleted, access removed), which revoke at once.",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => ServerSettings.DefaultKeyRecheckInterval,
        CustomParser = result => ParseSeconds(result, minimumSeconds: 1),
    };

    public Option<string> HsmModuleOption { get; } = new("--hsm-module")
    {
        Description = "HSM mode: the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so) whose token holds the Key Vault's root key "
            + "and RSA-HSM keys. Needs --hsm-token-label, and --hsm-pin-file or the " + HsmSettings.PinVariable + " environment variable.",
        HelpName = "PATH",
    };

    public Option<string> HsmTokenLabelOption { get; } = new("--hsm-token-label")
    {
        Description = "HSM mode: the label of the (initialized) token to use.",
        HelpName = "LABEL",
    };

    public Option<string> HsmPinFileOption { get; } = new("--hsm-pin-file")
    {
        Description = "HSM mode: a file holding the token's user PIN (one line; keep it mode 0600). "
            + "Without it the PIN is read from the " + HsmSettings.PinVariable + " environment variable; it is never a command-line argument.",
        HelpName = "PATH",
    };

    public Option<double> PlatformKeyRotationOption { get; } = new("--platform-key-rotation-days")
    {
        Description = "Rotate each region's platform key (the key that wraps the DEKs of disks without a customer key) when its "
            + "current version is this many days old; the DEKs are re-wrapped in the background (default 90; fractions allowed, more than 0).",
        HelpName = "DAYS",
        DefaultValueFactory = _ => ServerSettings.DefaultPlatformKeyRotation.TotalDays,
        Validators =
        {
            result =>
            {
                var days = result.GetValueOrDefault<double>();
                if (!(days > 0 && days <= 36500))
                {
                    result.AddError("The option '--platform-key-rotation-days' must be a number of days greater than 0 (at most 36500), e.g. 90 or 0.5.");
                }
            },
        },
    };

    public ServerSettings ToSettings(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var data = parseResult.GetValue(DataOption);
        return new ServerSettings(
            Path.GetFullPath(string.IsNullOrEmpty(data) ? ServerSettings.DefaultDataDirectory : data),
            parseResult.GetValue(PortOption),
            parseResult.GetValue(BindOption) ?? ServerSettings.DefaultBindAddress,
            parseResult.GetValue(LogFormatOption),
            parseResult.GetValue(NbdPortOption),
            parseResult.GetValue(NbdTlsOption),
            parseResult.GetValue(VaultPortsOption),
            parseResult.GetValue(TokenLifetimeOption),
            parseResult.GetValue(TokenClockSkewOption),
            HsmSettingsOf(parseResult),
            parseResult.GetValue(KeyRecheckIntervalOption))
        {
            PlatformKeyRotation = TimeSpan.FromDays(parseResult.GetValue(PlatformKeyRotationOption)),
        };
    }

    private HsmSettings? HsmSettingsOf(ParseResult parseResult)
    {
        var module = parseResult.GetValue(HsmModuleOption);
        if (string.IsNullOrEmpty(module))
        {
            return null;
        }

        var pinFile = parseResult.GetValue(HsmPinFileOption);
        return new HsmSettings(
            Path.GetFullPath(module), parseResult.GetValue(HsmTokenLabelOption) ?? string.Empty,
            string.IsNullOrEmpty(pinFile) ? null : Path.GetFullPath(pinFile));
    }

    /// <summary>Parses FIRST-LAST with 1 &lt;= FIRST &lt;= LAST &lt;= 65535.</summary>
    internal static PortRange ParsePortRange(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        var parts = text.Split('-');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            && first >= 1 && last <= IPEndPoint.MaxPort && first <= last)
        {
            return new PortRange(first, last);
        }

        result.AddError($"Cannot parse '{text}' as a port range for option '--vault-ports': use FIRST-LAST with 1 <= FIRST <= LAST <= {IPEndPoint.MaxPort}, e.g. 20000-20099.");
        return ServerSettings.DefaultVaultPorts;
    }

    /// <summary>Parses a whole number of seconds, at least <paramref name="minimumSeconds"/>.</summary>
    internal static TimeSpan ParseSeconds(ArgumentResult result, int minimumSeconds)
    {
        var option = (result.Parent as OptionResult)?.Option.Name ?? "--token-lifetime";
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (text.EndsWith('s'))
        {
            text = text[..^1];
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= minimumSeconds)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        result.AddError(string.Create(CultureInfo.InvariantCulture,
            $"Cannot parse '{text}' as seconds for option '{option}': use a whole number of at least {minimumSeconds}."));
        return TimeSpan.Zero;
    }

    /// <summary>Parses a TCP port in 0..65535 (0 = let the OS choose); the error names the option.</summary>
    internal static int ParsePort(ArgumentResult result)
    {
        var option = (result.Parent as OptionResult)?.Option.Name ?? "--port";
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            result.AddError($"Cannot parse '{text}' as a port for option '{option}': use a number in 0..{IPEndPoint.MaxPort}.");
        }
        else if (port > IPEndPoint.MaxPort)
        {
            result.AddError(string.Create(CultureInfo.InvariantCulture,
                $"Port {port} is out of range for option '{option}': use 0..{IPEndPoint.MaxPort} (0 lets the OS choose)."));
        }

        return port;
    }

    // Plain NBD has no authentication and no confidentiality: only a process on this machine may
    // reach it. Refused here, before anything is created, rather than by the listener at start.
    private void RefusePlainNbdOffLoopback(CommandResult result)
    {
        NbdTls tls;
        IPAddress bind;
        try
        {
            tls = result.GetValue(NbdTlsOption);
            bind = result.GetValue(BindOption) ?? ServerSettings.DefaultBindAddress;
        }
        catch (InvalidOperationException)
        {
            // One of the two values is malformed and already reported as its own parse error.
            return;
        }

        if (!tls.IsAllowedOn(bind))
        {
            result.AddError($"Option '--nbd-tls off' serves plain NBD and needs a loopback --bind address (127.0.0.1 or ::1), not {bind}.");
        }
    }

    // HSM mode is all or nothing: a module needs the token's label, and a label or PIN file without a
    // module would silently run in file mode. (Whether a PIN is there at all is checked at start: it may
    // come from the environment.)
    private void RequireHsmOptionsTogether(CommandResult result)
    {
        var module = result.GetValue(HsmModuleOption);
        var label = result.GetValue(HsmTokenLabelOption);
        var pinFile = result.GetValue(HsmPinFileOption);
        if (string.IsNullOrEmpty(module))
        {
            if (!string.IsNullOrEmpty(label) || !string.IsNullOrEmpty(pinFile))
            {
                result.AddError("Options '--hsm-token-label' and '--hsm-pin-file' need '--hsm-module PATH' (the PKCS#11 module of the token).");
            }
        }
        else if (string.IsNullOrWhiteSpace(label))
        {
            result.AddError("Option '--hsm-module' needs '--hsm-token-label LABEL' (the label of the token to use).");
        }
    }

    // Only IP literals, written out in full: a host name would need resolving and the certificate
    // names the address as an IP SAN; IPAddress.TryParse alone would also take "1" as 0.0.0.1.
    private static IPAddress? ParseBindAddress(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (IPAddress.TryParse(text, out var address) && !text.Contains('%', StringComparison.Ordinal)
            && (address.AddressFamily == AddressFamily.InterNetworkV6 || text.Count(c => c == '.') == 3))
        {
            return address;
        }

        result.AddError($"Cannot parse '{text}' as a bind address for option '--bind': use an IP literal such as 127.0.0.1, ::1 or 0.0.0.0.");
        return null;
    }
}
