// A fresh SoftHSM2 token per test: one softhsm2.conf and token directory per test process (SOFTHSM2_CONF
// is process-wide, so it is set once, before the module is first loaded), and each test initializes
// its own token with a distinct label and random PINs in the module's free slot. Missing SoftHSM2
// skips the test, or fails it when IRONCLAD_REQUIRE_TOOLS=1 (CI).
using System.Security.Cryptography;
using Ironclad.KeyVault.Protection;
using Ironclad.Testing.Tools;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Ironclad.KeyVault.Tests;

internal sealed class HsmTestToken
{
    private static readonly string[] ModuleCandidates =
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ];

    private static readonly Lock Gate = new();
    private static readonly Lazy<Pkcs11Module?> Module = new(LoadModule);
    private static string? _tokenDirectory;

    private HsmTestToken(string label, byte[] pin)
    {
        Label = label;
        Pin = pin;
    }

    public static string? ModulePath { get; } = ModuleCandidates.FirstOrDefault(File.Exists);

    /// <summary>Where this process's tokens live (outside any data directory).</summary>
    public static string TokenDirectory => _tokenDirectory ?? throw new InvalidOperationException("No token created yet.");

    public string Label { get; }

    public byte[] Pin { get; }

    /// <summary>Initializes a new token (label "ironclad-test-…", random SO and user PINs) in the free slot.</summary>
    public static HsmTestToken Create()
    {
        var module = Module.Value ?? throw ExternalTool.Unavailable(
            "softhsm2", "SoftHSM2 (libsofthsm2.so) is not installed (Debian package softhsm2)");
        var label = "ironclad-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var pin = System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        var soPin = System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        lock (Gate)
        {
            var slot = module.Library.GetSlotList(SlotsType.WithTokenPresent).First(s => !s.GetTokenInfo().TokenFlags.TokenInitialized);
            slot.InitToken(soPin, System.Text.Encoding.ASCII.GetBytes(label));
            using var session = slot.OpenSession(SessionType.ReadWrite);
            session.Login(CKU.CKU_SO, soPin);
            session.InitPin(pin);
            session.Logout();
        }

        return new HsmTestToken(label, pin);
    }

    public Pkcs11KeyProtector Open() => new(ModulePath!, Label, Pin);

    /// <summary>Runs <paramref name="action"/> on a raw PKCS#11 session of this token (logged in), to look at objects as an attacker with the PIN would.</summary>
    public T Inspect<T>(Func<ISession, Pkcs11InteropFactories, T> action)
    {
        var module = Module.Value!;
        var slot = module.Library.GetSlotList(SlotsType.WithTokenPresent)
            .Single(s => s.GetTokenInfo().Label.TrimEnd(' ') == Label);
        using var session = slot.OpenSession(SessionType.ReadWrite);
        try
        {
            session.Login(CKU.CKU_USER, Pin);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
        {
            // A protector of this process holds the login already.
        }

        return action(session, module.Factories);
    }

    private static Pkcs11Module? LoadModule()
    {
        if (ModulePath is null)
        {
            return null;
        }

        var root = Directory.CreateTempSubdirectory("ironclad-softhsm-").FullName;
        _tokenDirectory = Path.Combine(root, "tokens");
        Directory.CreateDirectory(_tokenDirectory);
        var conf = Path.Combine(root, "softhsm2.conf");
        File.WriteAllText(conf, $"directories.tokendir = {_tokenDirectory}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", conf);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Environment.GetEnvironmentVariable("IRONCLAD_KEEP_TEMP") != "1")
            {
                try
                {
                    Directory.Delete(root, recursive: true);
                }
                catch (IOException)
                {
                    // Best effort: the OS cleans its temp directory anyway.
                }
            }
        };

        // Held for the whole test run: the module is initialized once and every protector shares it.
        return Pkcs11Module.Acquire(ModulePath);
    }
}
