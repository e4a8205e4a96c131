// Seeded randomness for tests: every randomized test takes its seed from here, prints it, and can be
// replayed with IRONCLAD_SEED=<seed>. Never use new Random() without a seed in a test.
using Xunit;

namespace Ironclad.Testing;

public static class Seeds
{
    public const string EnvironmentVariable = "IRONCLAD_SEED";

    /// <summary>Returns IRONCLAD_SEED if set, else a fresh random seed; writes "seed=N" to the test output.</summary>
    public static int FromEnvironmentOrRandom(ITestOutputHelper? output = null)
    {
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        var seed = int.TryParse(text, out var fixedSeed) ? fixedSeed : System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);
        (output ?? TestContext.Current.TestOutputHelper)?.WriteLine($"seed={seed} (replay with {EnvironmentVariable}={seed})");
        return seed;
    }
}
