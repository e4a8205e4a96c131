// Process exit codes, the same for every command (Azure CLI's convention): scripts and tests
// branch on them, so they never change meaning.
namespace Ironclad.Host;

internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The command ran and failed: port in use, unusable data directory, unexpected error.</summary>
    public const int Failure = 1;

    /// <summary>The command line itself is wrong: unknown option, malformed value. Nothing was started.</summary>
    public const int Usage = 2;

    /// <summary>The service answered 404: the resource (group, vault, principal...) does not exist (az's code 3).</summary>
    public const int NotFound = 3;
}
