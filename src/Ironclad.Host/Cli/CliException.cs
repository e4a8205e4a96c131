// A failure a CLI command reports as one line, `ironclad: error: CODE: message`, exit 1 — the
// service's own error code and message when the service refused the call.
namespace Ironclad.Host.Cli;

internal sealed class CliException : Exception
{
    public CliException()
    {
        Code = "Error";
    }

    public CliException(string message)
        : base(message)
    {
        Code = "Error";
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "Error";
    }

    public CliException(string code, string message, int? statusCode = null)
        : base(message)
    {
        Code = code;
        StatusCode = statusCode;
    }

    public string Code { get; }

    /// <summary>The HTTP status when the service answered, or null.</summary>
    public int? StatusCode { get; }
}
