// Chooses the keys data plane's root of trust from the server settings: the root key file in
// DIR/keyvault (default) or a PKCS#11 token (HSM mode, --hsm-module). Invariants: a misconfigured
// token (module, label, PIN) fails the start with a clear StartupException, never a silent fall back
// to the file; the PIN comes from --hsm-pin-file or IRONCLAD_HSM_PIN, is zeroed after the login and
// never reaches a log or a message.
using System.Text;
using Ironclad.Host.Data;
using Ironclad.KeyVault.Protection;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class KeyVaultProtection
{
    /// <summary>Longest PIN file read (PKCS#11 PINs are short; anything bigger is the wrong file).</summary>
    private const int MaxPinFileBytes = 1024;

    public static IKeyProtector Create(ServerSettings settings, DataDirectory dataDirectory, ILogger? logger = null) =>
        Create(settings, dataDirectory, Environment.GetEnvironmentVariable, logger);

    /// <param name="environment">Reads an environment variable (the PIN when there is no PIN file).</param>
    internal static IKeyProtector Create(ServerSettings settings, DataDirectory dataDirectory, Func<string, string?> environment, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(environment);
        if (settings.Hsm is not { } hsm)
        {
            var rootKeyPath = Path.Combine(dataDirectory.KeyVaultDirectory, "root.key");
            var file = new FileKeyProtector(rootKeyPath);
            if (logger is not null)
            {
                LogFileMode(logger, rootKeyPath);
            }

            return file;
        }

        var pin = ReadPin(hsm, environment);
        try
        {
            var protector = new Pkcs11KeyProtector(hsm.ModulePath, hsm.TokenLabel, pin);
            if (logger is not null)
            {
                LogHsmMode(logger, hsm.ModulePath, hsm.TokenLabel, hsm.PinFile is null ? "environment" : "file");
            }

            return protector;
        }
        catch (Pkcs11SetupException e)
        {
            throw new StartupException($"HSM mode: {e.Message}", e);
        }
        finally
        {
            Array.Clear(pin);
        }
    }

    /// <summary>The PIN as bytes (UTF-8), from the PIN file (one line; a trailing newline is not part of it) or the environment.</summary>
    private static byte[] ReadPin(HsmSettings hsm, Func<string, string?> environment)
    {
        string? text;
        if (hsm.PinFile is { } pinFile)
        {
            byte[] content;
            try
            {
                var info = new FileInfo(pinFile);
                if (info.Exists && info.Length > MaxPinFileBytes)
                {
                    throw new StartupException($"HSM mode: the PIN file '{pinFile}' is larger than {MaxPinFileBytes} bytes; it must hold only the PIN");
                }

                content = File.ReadAllBytes(pinFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StartupException($"HSM mode: cannot read the PIN file '{pinFile}': {e.Message}", e);
            }

            try
            {
                text = Encoding.UTF8.GetString(content).TrimEnd('\r', '\n');
            }
            finally
            {
                Array.Clear(content);
            }

            if (text.Length == 0)
            {
                throw new StartupException($"HSM mode: the PIN file '{pinFile}' is empty");
            }
        }
        else
        {
            text = environment(HsmSettings.PinVariable);
            if (string.IsNullOrEmpty(text))
            {
                throw new StartupException(
                    $"HSM mode needs the token's user PIN: give --hsm-pin-file PATH or set the {HsmSettings.PinVariable} environment variable");
            }
        }

        return Encoding.UTF8.GetBytes(text);
    }

    [LoggerMessage(EventId = 1500, EventName = "KeyVaultProtectionFile", Level = LogLevel.Information,
        Message = "Key Vault root of trust: mode file, root key {RootKeyPath}.")]
    private static partial void LogFileMode(ILogger logger, string rootKeyPath);

    [LoggerMessage(EventId = 1501, EventName = "KeyVaultProtectionPkcs11", Level = LogLevel.Information,
        Message = "Key Vault root of trust: mode pkcs11, module {ModulePath}, token {TokenLabel} (PIN from {PinSource}).")]
    private static partial void LogHsmMode(ILogger logger, string modulePath, string tokenLabel, string pinSource);
}
