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
    private static readonly Lock Gate = new();
    private static readonly Lazy<Pkcs11Module?> Module = new(LoadModule);

    private HsmTestToken(string label, byte[] pin)
    {
        Label = label;
        Pin = pin;
    }

    public static string? ModulePath => SoftHsm.ModulePath;

    /// <summary>Where this process's tokens live (outside any data directory).</summary>
    public static string TokenDirectory => SoftHsm.TokenDirectory;

    public string Label { get; }

    public byte[] Pin { get; }

    /// <summary>Initializes a new token (label "ironclad-test-…", random SO and user PINs) in the free slot.</summary>
    public static HsmTestToken Create()
    {
        SoftHsm.RequireModule();
        var module = Module.Value!;
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

        // The token must be in this process's directory, never in the system's (/var/lib/softhsm/tokens).
        Assert.NotEmpty(Directory.GetDirectories(SoftHsm.TokenDirectory));

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

        // SOFTHSM2_CONF before the module loads; the module then stays loaded for the whole run, shared by every protector.
        _ = SoftHsm.ConfPath;
        return Pkcs11Module.Acquire(ModulePath);
    }
}
