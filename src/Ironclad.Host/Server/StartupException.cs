// An expected reason the server cannot start (port in use, unusable data directory, damaged TLS
// files). Its message is a complete sentence for the operator; it is printed without a stack
// trace and the process exits 1. Bugs use other exception types and keep their stack.
namespace Ironclad.Host.Server;

internal sealed class StartupException : Exception
{
    public StartupException(string message)
        : base(message)
    {
    }

    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
