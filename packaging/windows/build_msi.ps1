<#
.SYNOPSIS
Builds the Windows installer on a Windows 10+ host: the Flutter app, an installer with Inno Setup 6
(iscc, the default) or WiX v3 (candle/light), Authenticode signing with signtool (RFC 3161
timestamp), signature verification, and a SHA-256 checksum.

.DESCRIPTION
Runs on its own from a CI job, and is driven by `release-console pipeline run --platform windows`.
Signing needs WINDOWS_PFX_PATH (a PKCS#12 file) and WINDOWS_PFX_PASSWORD in the environment, or
WINDOWS_CERT_SHA1: the thumbprint of a certificate already in Cert:\CurrentUser\My (a hardware
token, a cloud HSM). The PFX is imported into that store inside this PowerShell process and
signtool signs by thumbprint, so the password is never on a command line (`ps`, process
auditing) and never printed; the imported certificate is removed after signing.

Prints `::step:: NAME` before each step and `::artifact:: PATH` for each output. Finished steps
are recorded in OUT\.state\steps.done; -Resume skips them and continues from the step that failed.

.EXAMPLE
pwsh -NoProfile -File packaging\windows\build_msi.ps1 -Version 1.2.3 -DryRun
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$Version,
    [switch]$SkipSigning,
    [switch]$DryRun,
    [switch]$Resume,
    [string]$Product = "WireTuner",
    [string]$Publisher = "",
    [ValidateSet("inno", "wix")][string]$Installer = "inno",
    [string]$AppDir = ".",
    [string]$Out = "build\windows",
    [string]$TimestampUrl = "http://timestamp.digicert.com"
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = "Stop"
$PSNativeCommandUseErrorActionPreference = $true

function Fail([string]$Message) {
    [Console]::Error.WriteLine("error: $Message")
    exit 2
}

if ($Version -notmatch '^\d+\.\d+\.\d+$') { Fail "-Version ${Version}: use MAJOR.MINOR.PATCH" }
if (-not $Product) { Fail "-Product must not be empty" }
if (-not $Publisher) { $Publisher = $Product }

# Prints a command in a dry run (quoted so it can be pasted), or runs it and fails on a non-zero
# exit code. Secrets are never in the arguments of a dry run.
function Invoke-Step([string]$Program, [string[]]$Arguments) {
    if ($DryRun) {
        $quoted = $Arguments | ForEach-Object { if ($_ -match '[\s"]') { '"' + ($_ -replace '"', '\"') + '"' } else { $_ } }
        Write-Output ("+ $Program " + ($quoted -join ' '))
        return
    }
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) { Fail "$Program exited with $LASTEXITCODE" }
}

function Assert-Tool([string]$Name, [string]$Fix) {
    if (-not (Get-Command $Name -ErrorAction SilentlyContinue)) { Fail "$Name not found: $Fix" }
}

function Assert-Env([string]$Name, [string]$Why) {
    if (-not [Environment]::GetEnvironmentVariable($Name)) { Fail "$Name is not set: $Why" }
}

# A stable GUID from a name (the same as build_installer_on_linux.sh's guid_of), so the upgrade
# code is the same for every build of the product on either builder.
function Get-StableGuid([string]$Name) {
    $sha = [System.Security.Cryptography.SHA1]::Create()
    $h = ($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($Name)) | ForEach-Object { $_.ToString("x2") }) -join ''
    "{0}-{1}-5{2}-a{3}-{4}" -f $h.Substring(0, 8), $h.Substring(8, 4), $h.Substring(13, 3), $h.Substring(17, 3), $h.Substring(20, 12)
}

$StateDir = Join-Path $Out ".state"
$StepsFile = Join-Path $StateDir "steps.done"
$script:CurrentStep = ""

function Start-BuildStep([string]$Name) {
    $script:CurrentStep = $Name
    if (-not $DryRun -and $Resume -and (Test-Path $StepsFile) -and
        ((Get-Content $StepsFile) -contains $Name)) {
        Write-Output "skip: $Name (done in an earlier run)"
        return $false
    }
    Write-Output "::step:: $Name"
    return $true
}

function Complete-BuildStep {
    if (-not $DryRun) { Add-Content -Path $StepsFile -Value $script:CurrentStep }
}

Write-Output "::step:: Preflight"
if (-not $DryRun) {
    if (-not $IsWindows -and $PSVersionTable.PSEdition -eq "Core") {
        Fail "this builder needs a Windows 10+ host; use -DryRun to see the plan"
    }
    Assert-Tool flutter "install Flutter (https://docs.flutter.dev/get-started/install/windows) and put it on PATH"
    if ($Installer -eq "inno") {
        Assert-Tool iscc "install Inno Setup 6 (winget install JRSoftware.InnoSetup) and add it to PATH"
    } else {
        Assert-Tool candle "install the WiX Toolset v3 (winget install WiXToolset.WiXToolset) and add its bin to PATH"
        Assert-Tool light "install the WiX Toolset v3 and add its bin to PATH"
    }
    if (-not $SkipSigning) {
        Assert-Tool signtool "install the Windows SDK (signtool.exe) and add it to PATH"
        if (-not $env:WINDOWS_CERT_SHA1) {
            Assert-Env WINDOWS_PFX_PATH "the path of the code-signing PKCS#12 file (or set WINDOWS_CERT_SHA1, or pass -SkipSigning)"
            Assert-Env WINDOWS_PFX_PASSWORD "the password of WINDOWS_PFX_PATH (or pass -SkipSigning)"
            if (-not (Test-Path -PathType Leaf $env:WINDOWS_PFX_PATH)) { Fail "WINDOWS_PFX_PATH: $($env:WINDOWS_PFX_PATH) is not a readable file" }
        }
    }
    if (-not (Test-Path (Join-Path $AppDir "pubspec.yaml"))) { Fail "$AppDir\pubspec.yaml not found: pass the Flutter app folder with -AppDir" }
    New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
    $Out = (Resolve-Path $Out).Path
    $StateDir = Join-Path $Out ".state"
    $StepsFile = Join-Path $StateDir "steps.done"
    if (-not $Resume) { Set-Content -Path $StepsFile -Value @() }
}

$Release = Join-Path $AppDir "build\windows\x64\runner\Release"
$Ext = if ($Installer -eq "inno") { "exe" } else { "msi" }
$Setup = Join-Path $Out "$Product-Setup-$Version.$Ext"
Write-Output "product $Product $Version by $Publisher; payload $Release; output $Setup"

if (Start-BuildStep "Flutter build") {
    Invoke-Step flutter @("--version")
    if ($DryRun) { Write-Output "+ cd $AppDir" }
    Push-Location $(if ($DryRun) { "." } else { $AppDir })
    try { Invoke-Step flutter @("build", "windows", "--release", "--build-name", $Version) } finally { Pop-Location }
    if (-not $DryRun -and -not (Test-Path $Release)) { Fail "flutter did not produce $Release" }
    Complete-BuildStep
}

if (Start-BuildStep "Build installer") {
    $Here = $PSScriptRoot
    if ($Installer -eq "inno") {
        Invoke-Step iscc @("/Qp", "/DAppName=$Product", "/DAppVersion=$Version", "/DAppPublisher=$Publisher",
            "/DSourceDir=$Release", "/DOutputDir=$Out", "/F$Product-Setup-$Version", (Join-Path $Here "installer.iss"))
    } else {
        $Obj = Join-Path $Out "obj"
        Invoke-Step heat @("dir", $Release, "-nologo", "-gg", "-sfrag", "-srd", "-cg", "AppFiles", "-dr", "INSTALLFOLDER",
            "-var", "var.SourceDir", "-out", (Join-Path $Obj "files.wxs"))
        Invoke-Step candle @("-nologo", "-arch", "x64", "-dProductName=$Product", "-dProductVersion=$Version",
            "-dManufacturer=$Publisher", "-dSourceDir=$Release", "-dUpgradeCode=$(Get-StableGuid "$Product/upgrade")", "-out", "$Obj\",
            (Join-Path $Here "installer.wxs"), (Join-Path $Obj "files.wxs"))
        Invoke-Step light @("-nologo", "-ext", "WixUIExtension", "-out", $Setup,
            (Join-Path $Obj "installer.wixobj"), (Join-Path $Obj "files.wixobj"))
    }
    Complete-BuildStep
}

if ($SkipSigning) {
    Write-Output "signing skipped (-SkipSigning): the installer is NOT signed"
} else {
    if (Start-BuildStep "Code signing") {
        # Sign by reference: signtool gets a thumbprint, never the PFX password.
        $Imported = $null
        $Store = $null
        if ($env:WINDOWS_CERT_SHA1) {
            $Thumbprint = $env:WINDOWS_CERT_SHA1
        } elseif ($DryRun) {
            Write-Output '+ import $env:WINDOWS_PFX_PATH into Cert:\CurrentUser\My in this process (the password stays in memory)'
            $Thumbprint = '<thumbprint of $env:WINDOWS_PFX_PATH>'
        } else {
            $Secure = ConvertTo-SecureString -String $env:WINDOWS_PFX_PASSWORD -AsPlainText -Force
            $Flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'UserKeySet, PersistKeySet'
            $Imported = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($env:WINDOWS_PFX_PATH, $Secure, $Flags)
            $Store = [System.Security.Cryptography.X509Certificates.X509Store]::new('My', 'CurrentUser')
            $Store.Open('ReadWrite')
            $Store.Add($Imported)
            $Thumbprint = $Imported.Thumbprint
        }
        try {
            Invoke-Step signtool @("sign", "/fd", "sha256", "/tr", $TimestampUrl, "/td", "sha256",
                "/d", $Product, "/s", "My", "/sha1", $Thumbprint, $Setup)
        } finally {
            if ($Imported) {
                $Store.Remove($Imported)
                $Store.Close()
            } elseif ($DryRun -and -not $env:WINDOWS_CERT_SHA1) {
                Write-Output '+ remove the imported certificate from Cert:\CurrentUser\My'
            }
        }
        Complete-BuildStep
    }
    if (Start-BuildStep "Verify signature") {
        Invoke-Step signtool @("verify", "/pa", "/v", $Setup)
        Complete-BuildStep
    }
}

if (Start-BuildStep "Checksums") {
    if ($DryRun) {
        Write-Output "+ Get-FileHash -Algorithm SHA256 $Setup > $Setup.sha256"
    } else {
        $Hash = (Get-FileHash -Algorithm SHA256 -Path $Setup).Hash.ToLowerInvariant()
        $Line = "$Hash  $(Split-Path -Leaf $Setup)"
        Set-Content -Path "$Setup.sha256" -Value $Line -NoNewline:$false -Encoding ascii
        Write-Output $Line
    }
    Complete-BuildStep
}
if (-not $DryRun) {
    if (-not (Test-Path $Setup)) { Fail "$Setup is missing (deleted after an earlier run? run again without -Resume)" }
    Write-Output "::artifact:: $Setup"
}
Write-Output "done"
