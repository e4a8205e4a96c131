// Sends a POSIX signal to a child process: .NET can only SIGKILL (Process.Kill), but a clean
// shutdown test needs SIGTERM/SIGINT, delivered exactly as a service manager would.
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Ironclad.Testing.Processes;

public static class PosixSignals
{
    public static void Send(int processId, PosixSignal signal)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("POSIX signals are not available on Windows.");
        }

        if (NativeMethods.Kill(processId, ToNumber(signal)) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), $"kill({processId}, {signal}) failed");
        }
    }

    // PosixSignal's values are .NET's own (SIGTERM = -4); kill(2) wants the platform's numbers,
    // which these four share on Linux and macOS.
    private static int ToNumber(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "Only SIGHUP, SIGINT, SIGQUIT and SIGTERM are supported."),
    };

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}
