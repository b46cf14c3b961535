"""Generate the synthetic, fictional sample files in tests/resources/.

Run ``python tests/resources/generate.py`` (optionally ``--out DIR``) to (re)create every file. Importing
this module generates nothing: tests and benchmarks can call the ``make_*`` helpers to make more files.

Every person, number, address and institution in these files is fictional ("Maria Fernanda Quiroga Test",
A-number 123-456-789, "Hospital General de San Isidro (ficticio)", "Bronx Example Medical Center").

Seeds, dates and PDF ids are fixed so that re-running produces byte-identical files with the same library
versions (other fpdf2, pypdf, FreeType, libjpeg or libtiff versions can change the bytes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import struct
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import img2pdf
from fpdf import FPDF
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from PIL.ExifTags import IFD, Base
from pypdf import PdfReader, PdfWriter

RESOURCES_DIR = Path(__file__).resolve().parent
DEMO_DATA_DIR = RESOURCES_DIR.parents[1] / "tasks" / "demo" / "data"  # the demo's files ship as package data
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
FONT_MONO = FONT_DIR / "DejaVuSansMono.ttf"

# One fixed date for every PDF and EXIF timestamp, so the bytes do not depend on when the script runs.
FIXED_DATE = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
EXIF_DATETIME = "2024:03:01 12:00:00"

LETTER_IN = (8.5, 11.0)
ENCRYPTED_PASSWORD = "fictional-secret"
CLIENT_NAME = "Maria Fernanda Quiroga Test"
A_NUMBER = "123-456-789"

# A line starting with this marker is drawn as a bold heading (marker removed) by every renderer below.
HEADING = "# "

# ------------------------------------------------------------------------------------------------------------
# Fictional document texts
# ------------------------------------------------------------------------------------------------------------

MEDICAL_RECORD_EN: list[list[str]] = [
    [
        "# Bronx Example Medical Center (fictional)",
        "Department of Internal Medicine - Outpatient Clinic Note",
        "SYNTHETIC TEST DOCUMENT - NOT A REAL MEDICAL RECORD",
        "",
        f"Patient: {CLIENT_NAME}",
        "Date of birth: 03/14/1990    Medical record number: BEMC-TEST-000123",
        f"Alien registration number (A-number): {A_NUMBER}",
        "Date of service: February 12, 2024",
        "Clinician: Jordan Sample, MD (fictional)",
        "",
        "# Chief complaint",
        "Follow-up of headaches, poor sleep and nightmares; evaluation of a scar on the left forearm.",
        "",
        "# History of present illness",
        "Ms. Quiroga Test is a 33-year-old woman who arrived in the United States in October 2023. "
        "She reports that in August 2023, in her home town, two armed men forced their way into her house, "
        "struck her left arm with a metal pipe and told her they would kill her if she did not leave. "
        "She was treated the same night at Hospital General de San Isidro (ficticio) and filed a police "
        "report the next morning.",
        "Since then she has had daily headaches, difficulty falling asleep, nightmares three to four times "
        "per week, and she startles easily at loud noises. She denies thoughts of self-harm.",
        "",
        "# Past medical history",
        "Laceration of the left forearm (August 2023), sutured abroad. No chronic illnesses. No surgeries.",
        "Medications: acetaminophen 500 mg as needed. Allergies: no known drug allergies.",
    ],
    [
        "# Physical examination",
        "Vital signs: BP 118/76, HR 84, temperature 98.4 F, weight 61 kg.",
        "Left forearm: healed linear scar, 4 cm long, on the dorsal surface, consistent with the reported "
        "injury. Full range of motion of the wrist and elbow.",
        "Neurological examination normal. Affect anxious; the patient became tearful when describing the events.",
        "",
        "# Assessment",
        "1. Post-traumatic stress symptoms following a reported assault and death threat.",
        "2. Tension-type headaches.",
        "3. Healed laceration, left forearm.",
        "",
        "# Plan",
        "Referral to behavioral health for trauma-focused therapy. Sleep hygiene counselling provided.",
        "Continue acetaminophen as needed. Return visit in 6 weeks, or sooner if symptoms worsen.",
        "",
        "Electronically signed by Jordan Sample, MD (fictional) on 02/12/2024 at 15:42.",
        "This document was generated for software testing. All names and facts are fictional.",
    ],
]

DENUNCIA_ES: list[list[str]] = [
    [
        "# POLICÍA NACIONAL - COMISARÍA DE SAN ISIDRO (FICTICIA)",
        "DOCUMENTO FICTICIO GENERADO PARA PRUEBAS DE SOFTWARE",
        "",
        "# DENUNCIA N.º 2023-SI-004512",
        "Fecha: 18 de agosto de 2023        Hora: 09:40",
        f"Denunciante: {CLIENT_NAME}",
        "Documento de identidad: 0000000-EJEMPLO (ficticio)",
        "Fecha de nacimiento: 14 de marzo de 1990",
        "Domicilio: Calle de la Prueba 123, Barrio Centro, San Isidro",
        "",
        "# Relato de los hechos",
        "La denunciante manifiesta que el día 17 de agosto de 2023, aproximadamente a las 19:30 horas, dos "
        "hombres con el rostro cubierto ingresaron por la fuerza a su vivienda. Uno de ellos portaba un arma "
        "de fuego y el otro un tubo de metal con el que la golpeó en el brazo izquierdo.",
        "Los agresores le exigieron que abandonara el barrio y le dijeron textualmente: «si no te vas esta "
        "semana, te matamos a ti y a tu familia». La denunciante interpreta estas palabras como una amenaza "
        "de muerte.",
        "Agrega que desde hace tres meses recibe mensajes intimidatorios en su teléfono y que su vecino, el "
        "señor Tomás Ejemplo, presenció la huida de los agresores.",
    ],
    [
        "# Atención médica",
        "La denunciante fue atendida esa misma noche en el servicio de urgencias del Hospital General de San "
        "Isidro (ficticio), donde le suturaron una herida de cuatro centímetros en el antebrazo izquierdo.",
        "",
        "# Diligencias",
        "Se registra la denuncia por los delitos de lesiones, allanamiento de morada y amenaza de muerte. Se "
        "remite copia a la Fiscalía de turno y se informa a la denunciante de su derecho a solicitar medidas "
        "de protección.",
        "",
        "Leída la presente, la denunciante se ratifica en su contenido y firma en señal de conformidad.",
        "",
        "Firma de la denunciante: ____________________________",
        "Oficial a cargo: Sargento Julián Ejemplo Pérez (ficticio), placa 0000",
        "Sello: COMISARÍA DE SAN ISIDRO - COPIA CERTIFICADA (FICTICIA)",
    ],
]

CARTA_DE_APOYO_ES: list[str] = [
    "San Isidro, 5 de enero de 2024",
    "",
    "A quien corresponda:",
    "",
    "Yo, Rosa Elena Ejemplo (ficticia), declaro que conozco a "
    f"{CLIENT_NAME} desde hace más de diez años, porque fuimos vecinas en el Barrio Centro de San Isidro.",
    "Sé que en agosto de 2023 dos hombres armados entraron a su casa, la golpearon y le hicieron una amenaza "
    "de muerte. La vi esa noche con el brazo herido y la acompañé al hospital.",
    "María es una persona honesta y trabajadora. Tuvo que huir porque su vida corría peligro.",
    "",
    "Atentamente,",
    "Rosa Elena Ejemplo",
    "Teléfono: +00 555 0100 (ficticio)",
    "",
    "CARTA DE APOYO FICTICIA PARA PRUEBAS",
]

CONSTANCIA_ES: list[str] = [
    "# IGLESIA COMUNIDAD DE EJEMPLO (FICTICIA)",
    "Bronx, Nueva York, 20 de febrero de 2024",
    "",
    "# CONSTANCIA",
    "",
    f"Por medio de la presente hacemos constar que la señora {CLIENT_NAME} asiste a nuestra congregación "
    "todos los domingos desde noviembre de 2023 y colabora como voluntaria en el banco de alimentos.",
    "Se extiende la presente a solicitud de la interesada, para los fines que estime convenientes.",
    "",
    "Pastor Andrés Ejemplo (ficticio)",
    "",
    "DOCUMENTO FICTICIO PARA PRUEBAS",
]

# English translations of the Spanish samples (what `casefile translation add` links; the demo uses them).
TRANSLATION_HEADER = "ENGLISH TRANSLATION - FICTIONAL TEST DOCUMENT"

DENUNCIA_EN: list[list[str]] = [
    [
        "# NATIONAL POLICE - SAN ISIDRO STATION (FICTIONAL)",
        TRANSLATION_HEADER,
        "",
        "# COMPLAINT No. 2023-SI-004512",
        "Date: August 18, 2023        Time: 09:40",
        f"Complainant: {CLIENT_NAME}",
        "Identity document: 0000000-EJEMPLO (fictional)",
        "Date of birth: March 14, 1990",
        "Address: Calle de la Prueba 123, Barrio Centro, San Isidro",
        "",
        "# Statement of facts",
        "The complainant states that on August 17, 2023, at approximately 7:30 p.m., two men with their faces "
        "covered forced their way into her home. One of them carried a firearm and the other a metal pipe with "
        "which he struck her on the left arm.",
        "The attackers demanded that she leave the neighborhood and told her, word for word: \"if you don't leave "
        'this week, we will kill you and your family." The complainant understands these words as a death threat.',
        "She adds that for three months she has been receiving intimidating messages on her telephone and that "
        "her neighbor, Mr. Tomás Ejemplo, saw the attackers flee.",
    ],
    [
        "# Medical care",
        "The complainant was treated that same night in the emergency department of the Hospital General de San "
        "Isidro (fictional), where a four-centimeter wound on her left forearm was sutured.",
        "",
        "# Proceedings",
        "The complaint is registered for the offenses of bodily injury, breaking and entering, and death threat. "
        "A copy is sent to the duty prosecutor's office and the complainant is informed of her right to request "
        "protective measures.",
        "",
        "Having read this statement, the complainant confirms its content and signs in agreement.",
        "",
        "Signature of the complainant: [signature]",
        "Officer in charge: Sergeant Julián Ejemplo Pérez (fictional), badge 0000",
        "Seal: SAN ISIDRO STATION - CERTIFIED COPY (FICTIONAL)",
    ],
]

CARTA_DE_APOYO_EN: list[list[str]] = [
    [
        TRANSLATION_HEADER,
        "",
        "San Isidro, January 5, 2024",
        "",
        "To whom it may concern:",
        "",
        f"I, Rosa Elena Ejemplo (fictional), declare that I have known {CLIENT_NAME} for more than ten years, "
        "because we were neighbors in Barrio Centro, San Isidro.",
        "I know that in August 2023 two armed men entered her house, beat her and threatened to kill her. I saw "
        "her that night with her injured arm and went with her to the hospital.",
        "María is an honest and hard-working person. She had to flee because her life was in danger.",
        "",
        "Sincerely,",
        "Rosa Elena Ejemplo",
        "Telephone: +00 555 0100 (fictional)",
        "",
        "FICTIONAL SUPPORT LETTER FOR TESTING",
    ]
]

CONSTANCIA_EN: list[list[str]] = [
    [
        "# EXAMPLE COMMUNITY CHURCH (FICTIONAL)",
        TRANSLATION_HEADER,
        "Bronx, New York, February 20, 2024",
        "",
        "# CERTIFICATE",
        "",
        f"We hereby certify that Mrs. {CLIENT_NAME} has attended our congregation every Sunday since November "
        "2023 and volunteers at the food bank.",
        "This certificate is issued at her request, for whatever purposes she deems appropriate.",
        "",
        "Pastor Andrés Ejemplo (fictional)",
        "",
        "FICTIONAL DOCUMENT FOR TESTING",
    ]
]

ID_CARD_EN: list[list[str]] = [
    [
        "# REPUBLIC OF EXAMPLE - IDENTITY CARD (FICTIONAL)",
        TRANSLATION_HEADER,
        "",
        "SPECIMEN - FICTIONAL",
        f"Name: {CLIENT_NAME}",
        "This translation exists only to test the software. The card it translates is fictional.",
    ]
]

# A provider's answer to a record request (the demo drops it in the case's inbox folder under the request's code).
RECORDS_REPLY_EN: list[list[str]] = [
    [
        "# Metro General Hospital - Health Information Management (fictional)",
        "500 Example Avenue, Room 120, New York, NY 10001",
        "SYNTHETIC TEST DOCUMENT - NOT A REAL MEDICAL RECORD",
        "",
        "# Response to a request for records",
        f"Patient: {CLIENT_NAME}",
        "Records enclosed: Emergency department visit of May 14, 2024 (triage note, physician note, discharge).",
        "Triage: patient reports pain in the left forearm after a fall at work. Vital signs normal.",
        "Physician note: X-ray of the left forearm shows no fracture. Old healed scar noted on the forearm.",
        "Discharge: ibuprofen as needed; follow up with primary care in two weeks.",
        "",
        "Certified a true copy of the records on file. Custodian of records: Pat Example (fictional).",
    ]
]

SCHOOL_RECORD_EN: list[list[str]] = [
    [
        "# Bronx Example Public School 000 (fictional)",
        "Student Record - Enrollment, Grades and Attendance",
        "SYNTHETIC TEST DOCUMENT - NOT A REAL SCHOOL RECORD",
        "",
        "Student: Lucas Quiroga Test        Grade: 4        Student ID: BEPS-TEST-7781",
        f"Parent / guardian: {CLIENT_NAME}",
        "Date of enrollment: November 6, 2023",
        "School year: 2023-2024",
        "",
        "# Marking period grades (1 = lowest, 4 = highest)",
        "English Language Arts ........ 3",
        "Mathematics .................. 3",
        "Science ...................... 4",
        "Social Studies ............... 3",
        "English as a New Language .... 2",
        "Physical Education ........... 4",
        "Art .......................... 4",
    ],
    [
        "# Attendance",
        "Days enrolled: 74        Days present: 71        Days absent (excused): 3",
        "",
        "# Teacher comments",
        "Lucas is a kind and hard-working student. He joined our class in November and has made strong "
        "progress in reading English. He participates eagerly in science and art.",
        "",
        "# Certification",
        "I certify that this is a true copy of the student's record on file at this school.",
        "Signed: Pat Example, School Registrar (fictional)",
        "Date issued: February 27, 2024",
        "",
        "This record was generated for software testing. All names and facts are fictional.",
    ],
]

TRUNCATED_SOURCE: list[list[str]] = [
    [
        "# Bronx Example Medical Center (fictional)",
        "Radiology report - SYNTHETIC TEST DOCUMENT",
        f"Patient: {CLIENT_NAME}    A-number: {A_NUMBER}",
        "X-ray of the left forearm: no fracture. Soft tissue scar noted.",
    ],
    [
        "# Page 2",
        "This file is cut short on purpose: only the first part of its bytes is kept.",
    ],
]

ENCRYPTED_SOURCE: list[list[str]] = [
    [
        "# Encrypted test document (fictional)",
        f"Client: {CLIENT_NAME}    A-number: {A_NUMBER}",
        f"The user password of this file is '{ENCRYPTED_PASSWORD}'. It exists only to test the pipeline's",
        "handling of password-protected PDFs.",
    ],
]

JPEG_NAMED_PDF_LINES: list[str] = [
    "# This is a JPEG image, not a PDF",
    "The file name ends in .pdf but the bytes start with the JPEG signature FF D8 FF.",
    f"Client: {CLIENT_NAME} (fictional)",
]

NOTES_TXT = f"""Intake call notes - FICTIONAL TEST DATA
Client: {CLIENT_NAME}
A-number: {A_NUMBER} (fictional)

- Request medical records from Bronx Example Medical Center (fictional).
- Ask the family for a certified copy of the police report (denuncia) from San Isidro.
- Emergency room records: Hospital General de San Isidro (ficticio).
- Support letter from neighbour Rosa Elena Ejemplo received by phone photo.

This plain-text file exists to test that unsupported file types are rejected.
"""


# ------------------------------------------------------------------------------------------------------------
# Country conditions: a small library of synthetic reports on a FICTIONAL country, Valdoria (code XV)
# ------------------------------------------------------------------------------------------------------------

CONDITIONS_BANNER = "SYNTHETIC DEMO TEXT ABOUT A FICTIONAL COUNTRY (VALDORIA) - NOT A REAL REPORT"

_STATE_SUMMARY = (
    "Valdoria is a constitutional republic. Significant human rights issues included credible reports of "
    "unlawful killings by security forces, torture and cruel treatment of detainees, harsh prison conditions, "
    "and widespread violence by the gang Los Cuervos. Impunity remained pervasive."
)
_STATE_PRISONS = [
    "# Section 1. Respect for the Integrity of the Person",
    "# c. Torture and Other Cruel, Inhuman, or Degrading Treatment",
    "The constitution prohibits such practices, but human rights groups documented that police officers beat "
    "detainees to extract confessions. Detainees described being held in solitary confinement for weeks in the "
    "Puerto Alto penitentiary without access to a lawyer.",
    "Authorities rarely investigated complaints of torture, and no officer was convicted for torture during the year.",
    "# Prison and Detention Center Conditions",
    "Prison conditions were harsh and life threatening due to overcrowding, violence between inmates and "
    "inadequate medical care. Gang leaders controlled entire wings of several prisons with the knowledge of "
    "prison officials.",
]
_STATE_GANGS = [
    "# Gang Violence",
    "The gang Los Cuervos exercised territorial control over large parts of Puerto Alto and other cities. "
    "Gang members extorted bus drivers, shopkeepers and families through a weekly war tax.",
    "Los Cuervos killed people who refused to pay extortion or to join the gang, and carried out forced "
    "recruitment of children as young as twelve.",
    "Police colluded with gang members in several districts, and victims reported that officers shared the "
    "names of complainants with the gang.",
]
_STATE_WOMEN = [
    "# Section 6. Discrimination and Societal Abuses",
    "# Women",
    "Rape and Domestic Violence: The law criminalizes domestic violence, but authorities did not enforce it "
    "effectively. Domestic violence remained widespread, and women's organizations reported that police often "
    "refused to register complaints of intimate partner violence.",
    "Courts rarely issued protection orders, and the protection orders they issued were seldom enforced. "
    "Femicide remained a serious problem: civil society groups counted 212 femicides during the year, and few "
    "cases reached a conviction.",
]
_STATE_LGBTQ = [
    "# Acts of Violence, Discrimination, and Other Abuses Based on Sexual Orientation or Gender Identity",
    "LGBTQI+ persons faced violence from gang members and police. Activists reported that transgender women "
    "were attacked in Puerto Alto and that police officers mocked victims who tried to report attacks.",
    "# Section 4. Corruption in Government",
    "Corruption was widespread in the police and the judiciary. Officials accepted bribes from Los Cuervos in "
    "exchange for warnings about police operations.",
]
_STATE_RELOCATION = [
    "# Internally Displaced Persons",
    "Violence by Los Cuervos caused internal displacement of thousands of families. The gang maintained "
    "informants in every department and tracked down people who fled to other cities.",
    "Persons who relocated within the country reported that gang members found them through their networks "
    "and threatened them again. The government did not operate shelters for displaced persons.",
]

STATE_2023_XV: list[list[str]] = [
    [
        "# 2023 Country Reports on Human Rights Practices: Valdoria",
        "United States Department of State - Bureau of Democracy, Human Rights, and Labor",
        CONDITIONS_BANNER,
        "",
        "# Executive Summary",
        _STATE_SUMMARY,
    ],
    _STATE_PRISONS,
    _STATE_GANGS,
    _STATE_WOMEN,
    _STATE_LGBTQ,
    _STATE_RELOCATION,
]

STATE_2024_XV: list[list[str]] = [  # the newer edition drops the sections on women, LGBTQI+ persons and corruption
    [
        "# 2024 Country Reports on Human Rights Practices: Valdoria",
        "United States Department of State - Bureau of Democracy, Human Rights, and Labor",
        CONDITIONS_BANNER,
        "",
        "# Executive Summary",
        "Valdoria is a constitutional republic. Significant human rights issues included credible reports of "
        "unlawful killings by security forces, torture of detainees, and violence by the gang Los Cuervos.",
    ],
    _STATE_PRISONS,
    _STATE_GANGS,
    _STATE_RELOCATION,
]

UNHCR_2023_XV: list[list[str]] = [
    [
        "# UNHCR Eligibility Guidelines for Assessing the International Protection Needs of Asylum-Seekers "
        "from Valdoria",
        CONDITIONS_BANNER,
        "",
        "# Summary",
        "These guidelines describe the groups of persons from Valdoria who may be in need of international "
        "protection, including persons who resist the gang Los Cuervos and women who are survivors of domestic "
        "violence.",
    ],
    [
        "# Persons Resisting Gang Recruitment or Extortion",
        "Persons who refuse forced recruitment or the payment of extortion to Los Cuervos are at risk of serious "
        "harm, including killing. Family members of persons who resist the gang are frequently targeted as well.",
        "State protection is generally not available, given the infiltration of the police by gang members.",
        "# Women Survivors of Domestic Violence",
        "Women who are survivors of domestic violence are at risk of further violence, including femicide, and "
        "the authorities are generally unable or unwilling to protect them.",
    ],
    [
        "# Internal Flight or Relocation Alternative",
        "An internal flight or relocation alternative is generally not available to persons who fear Los "
        "Cuervos, given the gang's national presence and its ability to track down people throughout the "
        "country.",
    ],
]

OVDH_2024_ES: list[list[str]] = [
    [
        "# Observatorio Valdoriano de Derechos Humanos (ficticio)",
        "Informe anual sobre violencia de género en Valdoria, 2024",
        "TEXTO SINTÉTICO SOBRE UN PAÍS FICTICIO (VALDORIA) - NO ES UN INFORME REAL",
        "",
        "# Violencia doméstica",
        "La violencia doméstica sigue siendo la forma de violencia más denunciada contra las mujeres en "
        "Valdoria. En 2024 el Observatorio registró 4.300 denuncias de violencia intrafamiliar.",
        "La policía se negó con frecuencia a recibir las denuncias de las víctimas y las remitió a una "
        "conciliación con su agresor.",
    ],
    [
        "# Femicidios e impunidad",
        "El Observatorio contó 198 femicidios en 2024. Menos del cinco por ciento de los casos terminó en una "
        "condena, lo que refleja una impunidad casi total.",
        "Las medidas de protección dictadas por los juzgados rara vez se cumplieron, porque la policía carece de "
        "recursos para vigilar a los agresores.",
    ],
]

OVDH_2024_EN: list[list[str]] = [  # its English translation, page for page
    [
        "# Valdorian Human Rights Observatory (fictional)",
        "ENGLISH TRANSLATION - FICTIONAL TEST DOCUMENT",
        "Annual report on gender-based violence in Valdoria, 2024",
        "",
        "# Domestic violence",
        "Domestic violence remains the most reported form of violence against women in Valdoria. In 2024 the "
        "Observatory recorded 4,300 complaints of intrafamily violence.",
        "The police frequently refused to receive victims' complaints and referred them to a conciliation with "
        "their aggressor.",
    ],
    [
        "# Femicides and impunity",
        "The Observatory counted 198 femicides in 2024. Fewer than five percent of the cases ended in a "
        "conviction, which reflects almost total impunity.",
        "The protection measures ordered by the courts were rarely complied with, because the police lack the "
        "resources to watch the aggressors.",
    ],
]

HRW_2022_XV_SCAN: list[list[str]] = [
    [
        "# Human Rights Watch",
        "Valdoria: Police Abuses and Gang Collusion (2022)",
        CONDITIONS_BANNER,
        "",
        "# Torture in police custody",
        "Former detainees told us that police officers tortured them with beatings and suffocation with plastic "
        "bags in the Puerto Alto police station.",
        "Prosecutors opened few investigations into these abuses, and none led to a conviction.",
    ],
    [
        "# Collusion with Los Cuervos",
        "Several police officers worked for Los Cuervos, warning gang leaders of raids and handing over people "
        "who had reported extortion.",
        "Residents said they did not report crimes because the police would tell the gang.",
    ],
]

NEWS_2025_XV_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Bus drivers pay the war tax to Los Cuervos</title>
<style>body { font-family: serif; } .byline { color: #555; }</style></head>
<body>
<header><p>Valdoria Daily (fictional newspaper) - SYNTHETIC DEMO TEXT, NOT A REAL ARTICLE</p></header>
<article>
<h1>Bus drivers in Puerto Alto pay a weekly war tax to Los Cuervos</h1>
<p class="byline">By a fictional staff reporter, September 30, 2025</p>
<p>Bus drivers in Puerto Alto said they pay a weekly war tax to the gang Los Cuervos, and that drivers who refused
were shot. Three drivers were killed in September alone.</p>
<p>Drivers said they no longer report extortion to the police, because officers share complaints with the gang.</p>
<p>Families of murdered drivers fled to other cities, but several said gang members found them there.</p>
</article>
<script>document.write("scripts never run in the archive");</script>
</body>
</html>
"""

# file, publisher, series, title, edition, published, url, accessed, lang
CONDITIONS_SOURCES: list[tuple[str, ...]] = [
    (
        "state_2023_valdoria.pdf",
        "US Department of State",
        "Country Reports on Human Rights Practices",
        "2023 Country Reports on Human Rights Practices: Valdoria",
        "2023",
        "2024-04-22",
        "https://www.example.org/fictional/state/2023-valdoria",
        "2026-11-02",
        "en",
    ),
    (
        "state_2024_valdoria.pdf",
        "US Department of State",
        "Country Reports on Human Rights Practices",
        "2024 Country Reports on Human Rights Practices: Valdoria",
        "2024",
        "2025-08-12",
        "https://www.example.org/fictional/state/2024-valdoria",
        "2026-11-02",
        "en",
    ),
    (
        "unhcr_2023_valdoria.pdf",
        "UNHCR",
        "Eligibility Guidelines: Valdoria",
        "UNHCR Eligibility Guidelines for Assessing the International Protection Needs of Asylum-Seekers from Valdoria",
        "2023",
        "2023-09-15",
        "https://www.example.org/fictional/unhcr/valdoria-2023",
        "2026-11-02",
        "en",
    ),
    (
        "ovdh_violencia_2024_es.pdf",
        "Observatorio Valdoriano de Derechos Humanos",
        "Informe anual sobre violencia de género",
        "Informe anual sobre violencia de género en Valdoria, 2024",
        "2024",
        "2024-11-25",
        "",
        "",
        "es",
    ),
    (
        "hrw_2022_valdoria_scan.pdf",
        "Human Rights Watch",
        "Valdoria: Police Abuses",
        "Valdoria: Police Abuses and Gang Collusion",
        "2022",
        "2022-06-01",
        "https://www.example.org/fictional/hrw/valdoria-2022",
        "2026-11-02",
        "en",
    ),
    (
        "valdoria_daily_2025_war_tax.html",
        "Valdoria Daily",
        "Valdoria Daily news",
        "Bus drivers in Puerto Alto pay a weekly war tax to Los Cuervos",
        "2025-09-30",
        "2025-09-30",
        "https://news.example.org/valdoria/bus-drivers-war-tax",
        "2025-10-02",
        "en",
    ),
]
CONDITIONS_CSV_FIELDS = ("file", "publisher", "series", "title", "edition", "published", "url", "accessed", "lang")


# ------------------------------------------------------------------------------------------------------------
# Text rendering
# ------------------------------------------------------------------------------------------------------------


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; install fonts-dejavu-core (apt-get install fonts-dejavu-core)")
    return ImageFont.truetype(str(path), size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Split one paragraph into lines no wider than max_width pixels (a single over-long word stays whole)."""
    if font.getlength(text) <= max_width:
        return [text]  # keep deliberate runs of spaces (column layouts) when the line fits
    words = text.split()
    lines: list[str] = []
    current = words[0]
    for word in words[1:]:
        candidate = f"{current} {word}"
        if font.getlength(candidate) <= max_width:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def _draw_lines(
    image: Image.Image,
    lines: Sequence[str],
    *,
    margin: int,
    font_px: int,
    fill: int | tuple[int, int, int],
) -> None:
    """Draw wrapped paragraphs onto image, top-left at (margin, margin); raise if the text does not fit."""
    draw = ImageDraw.Draw(image)
    body = _font(FONT_REGULAR, font_px)
    heading = _font(FONT_BOLD, round(font_px * 1.15))
    line_height = round(font_px * 1.45)
    max_width = image.width - 2 * margin
    y = margin
    for paragraph in lines:
        font = heading if paragraph.startswith(HEADING) else body
        text = paragraph.removeprefix(HEADING)
        for line in _wrap(text, font, max_width):
            if y + line_height > image.height - margin // 2:
                raise ValueError(f"text does not fit on one {image.width}x{image.height} page: {line!r}")
            draw.text((margin, y), line, font=font, fill=fill)
            y += line_height


def _add_noise(image: Image.Image, noise: float, rng: random.Random) -> Image.Image:
    """Add uniform per-pixel noise of +/- noise*255 grey levels to an "L" image (seeded, no numpy needed)."""
    amplitude = round(max(0.0, min(noise, 1.0)) * 255)
    if amplitude == 0:
        return image
    raw = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
    scaled = raw.point([v * 2 * amplitude // 255 for v in range(256)])
    return ImageChops.add(image, scaled, scale=1.0, offset=-amplitude)


def render_text_page(
    lines: list[str], dpi: int = 200, skew_deg: float = 0.0, noise: float = 0.0, seed: int = 0
) -> Image.Image:
    """Render lines onto a US-letter greyscale ("L") page at dpi, like a scan.

    Paragraphs are word-wrapped; a line starting with "# " is a bold heading; "" is a blank line. skew_deg
    rotates the page content counter-clockwise (white fill); noise is the uniform noise amplitude as a
    fraction of full scale (0.02 is about +/-5 grey levels). Raises ValueError if the text does not fit on
    one page.
    """
    size = (round(LETTER_IN[0] * dpi), round(LETTER_IN[1] * dpi))
    page = Image.new("L", size, 252)  # scanner white is rarely pure 255
    _draw_lines(page, lines, margin=dpi, font_px=round(11 * dpi / 72), fill=20)
    if skew_deg:
        page = page.rotate(skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=252)
    return _add_noise(page, noise, random.Random(seed))


def _jpeg_bytes(
    image: Image.Image,
    *,
    quality: int,
    dpi: int | None = None,
    exif: bytes | None = None,
    progressive: bool = False,
) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality, "optimize": True, "progressive": progressive}
    if dpi is not None:
        options["dpi"] = (dpi, dpi)
    if exif is not None:
        options["exif"] = exif
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------------------
# Good inputs
# ------------------------------------------------------------------------------------------------------------


def born_digital_pdf_bytes(pages: list[list[str]], *, title: str = "Synthetic test document (fictional)") -> bytes:
    """A letter-size PDF with a real text layer (embedded DejaVu subset), fixed dates, content-derived /ID."""
    pdf = FPDF(orientation="P", unit="pt", format="letter")
    pdf.set_creation_date(FIXED_DATE)  # fpdf2 derives /ID from the content plus this date
    pdf.set_title(title)
    pdf.set_author("casefile test generator (fictional data)")
    pdf.set_creator("tests/resources/generate.py")
    pdf.add_font("DejaVu", "", str(FONT_REGULAR))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD))
    pdf.set_margins(72, 72, 72)
    pdf.set_auto_page_break(True, margin=72)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            if not line:
                pdf.ln(8)
            elif line.startswith(HEADING):
                pdf.set_font("DejaVu", "B", 13)
                pdf.multi_cell(0, 18, line.removeprefix(HEADING), new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("DejaVu", "", 11)
                pdf.multi_cell(0, 15, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_born_digital_pdf(path: Path, pages: list[list[str]]) -> None:
    """Write a born-digital PDF (one list of paragraphs per page) with a real text layer."""
    path.write_bytes(born_digital_pdf_bytes(pages))


def make_scanned_pdf(path: Path, pages: list[list[str]], dpi: int = 200, seed: int = 0, *, quality: int = 65) -> None:
    """Write an image-only PDF: each page rendered grey, skewed ~0.7 degrees, noised, JPEG-encoded, then
    wrapped losslessly by img2pdf (the JPEG bytes are embedded unchanged), so there is no text layer at all.

    Progressive JPEG at quality 65 keeps a dense 200 dpi letter page under ~150 KB while staying OCR-readable.
    """
    rng = random.Random(seed)
    images: list[bytes] = []
    for lines in pages:
        skew = rng.uniform(0.55, 0.85) * rng.choice((-1.0, 1.0))
        page = render_text_page(lines, dpi=dpi, skew_deg=skew, noise=0.006, seed=rng.randrange(2**32))
        images.append(_jpeg_bytes(page, quality=quality, dpi=dpi, progressive=True))
    pdf = img2pdf.convert(
        images,
        # img2pdf 0.6.3 compares pikepdf versions as strings ("10.x" < "6.2"), so with pikepdf >= 10 it never
        # asks qpdf for a deterministic /ID; its internal engine writes no /ID (optional when unencrypted).
        engine=img2pdf.Engine.internal,
        title="Scanned document (fictional test data)",
        creationdate=FIXED_DATE,
        moddate=FIXED_DATE,
    )
    path.write_bytes(pdf)


def _photo_of_paper(lines: list[str], seed: int) -> Image.Image:
    """An upright 1200x1600 RGB 'phone photo' of a letter on a table (uneven light, slight tilt, blur)."""
    rng = random.Random(seed)
    width, height = 1200, 1600
    # Table: warm brown, darker towards the bottom of the frame.
    light = Image.linear_gradient("L").resize((width, height)).point([235 - v // 3 for v in range(256)])
    table = Image.merge("RGB", [light.point([v * k // 255 for v in range(256)]) for k in (150, 118, 88)])
    # Paper: 8.5x11 proportions at ~120 px/inch, off-white with a slight warm tint.
    paper_w, paper_h = 1020, 1320
    paper = Image.new("L", (paper_w, paper_h), 255)
    _draw_lines(paper, lines, margin=95, font_px=26, fill=25)
    paper_rgb = Image.merge("RGB", [paper.point([v * k // 255 for v in range(256)]) for k in (246, 242, 230)])
    angle = rng.uniform(-1.8, 1.8)
    mask = Image.new("L", paper_rgb.size, 255).rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    paper_rgb = paper_rgb.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    x = (width - paper_rgb.width) // 2 + rng.randint(-20, 20)
    y = (height - paper_rgb.height) // 2 + rng.randint(-20, 20)
    shadow = mask.filter(ImageFilter.GaussianBlur(12)).point([v * 110 // 255 for v in range(256)])
    table.paste(Image.new("RGB", table.size, (35, 25, 15)), (0, 0), _offset_mask(shadow, table.size, x + 10, y + 14))
    table.paste(paper_rgb, (x, y), mask)
    # Uneven light: multiply by a soft diagonal gradient (mean of a vertical and a horizontal ramp).
    vertical = Image.linear_gradient("L").resize((width, height))
    horizontal = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize((width, height))
    ramp = ImageChops.add(vertical, horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT), scale=2.0)
    ramp = ramp.point([255 - v // 7 for v in range(256)])
    table = ImageChops.multiply(table, Image.merge("RGB", [ramp, ramp, ramp]))
    return table.filter(ImageFilter.GaussianBlur(0.6))


def _offset_mask(mask: Image.Image, size: tuple[int, int], x: int, y: int) -> Image.Image:
    canvas = Image.new("L", size, 0)
    canvas.paste(mask, (x, y))
    return canvas


# Pillow's ImageOps.exif_transpose applies these transposes to *display* an image with a given Orientation;
# storing needs the inverse (flips and transposes are their own inverse; the rotations swap 90 and 270).
_STORE_TRANSPOSE: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed with ROTATE_270 (90 degrees clockwise)
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # displayed with ROTATE_90
}


def make_photo_jpeg(path: Path, lines: list[str], orientation: int = 1, seed: int = 0) -> None:
    """Write a phone-photo JPEG of a letter that reads upright once its EXIF Orientation (1-8) is applied.

    The pixels are stored transformed so that ``ImageOps.exif_transpose`` restores the upright 1200x1600
    photo; orientation 6 therefore stores a 1600x1200 image, as phones do for portrait shots.
    """
    if orientation not in _STORE_TRANSPOSE:
        raise ValueError(f"EXIF orientation must be 1-8, got {orientation}")
    upright = _photo_of_paper(lines, seed)
    transpose = _STORE_TRANSPOSE[orientation]
    stored = upright if transpose is None else upright.transpose(transpose)
    exif = Image.Exif()
    exif[Base.Orientation] = orientation
    exif[Base.Make] = "ExamplePhone (fictional)"
    exif[Base.Model] = "Test Model 1"
    exif[Base.DateTime] = EXIF_DATETIME
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = EXIF_DATETIME
    path.write_bytes(_jpeg_bytes(stored, quality=80, dpi=72, exif=exif.tobytes()))


def make_multipage_tiff(path: Path, pages: list[list[str]]) -> None:
    """Write a 1-bit, 200 dpi, CCITT group 4 TIFF with one frame per page (a fax-like school record scan)."""
    frames = [
        render_text_page(lines, dpi=200, skew_deg=-0.3 if i % 2 else 0.25).convert("1", dither=Image.Dither.NONE)
        for i, lines in enumerate(pages)
    ]
    frames[0].save(path, format="TIFF", save_all=True, append_images=frames[1:], compression="group4", dpi=(200, 200))


def make_id_card_png(path: Path) -> None:
    """Write an ~800x500 RGB PNG of a clearly fictional identity card (flat colours keep the PNG small)."""
    width, height = 800, 500
    card = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle(
        (8, 8, width - 9, height - 9), radius=28, fill=(226, 238, 246), outline=(40, 80, 120), width=3
    )
    draw.rounded_rectangle((8, 8, width - 9, 92), radius=28, fill=(40, 80, 120))
    draw.rectangle((8, 60, width - 9, 92), fill=(40, 80, 120))
    draw.text((34, 20), "REPÚBLICA DE EJEMPLO (FICTICIA)", font=_font(FONT_BOLD, 26), fill=(255, 255, 255))
    draw.text(
        (34, 56),
        "DOCUMENTO NACIONAL DE IDENTIDAD - ESPÉCIMEN SIN VALOR",
        font=_font(FONT_REGULAR, 18),
        fill=(220, 232, 245),
    )
    # Photo placeholder: a grey silhouette, no real face.
    draw.rectangle((34, 120, 234, 380), fill=(200, 206, 212), outline=(120, 130, 140), width=2)
    draw.ellipse((94, 150, 174, 240), fill=(150, 158, 166))
    draw.pieslice((64, 250, 204, 420), 180, 360, fill=(150, 158, 166))
    label = _font(FONT_REGULAR, 15)
    value = _font(FONT_BOLD, 22)
    fields = [
        ("APELLIDOS / SURNAME", "QUIROGA TEST"),
        ("NOMBRES / GIVEN NAMES", "MARIA FERNANDA"),
        ("FECHA DE NACIMIENTO / DATE OF BIRTH", "14 MAR 1990"),
        ("LUGAR DE NACIMIENTO / PLACE OF BIRTH", "SAN ISIDRO"),
        ("N.º DOCUMENTO / DOCUMENT NO.", "0000000-EJEMPLO"),
    ]
    y = 116
    for caption, text in fields:
        draw.text((262, y), caption, font=label, fill=(70, 90, 110))
        draw.text((262, y + 18), text, font=value, fill=(15, 20, 30))
        y += 54
    draw.text((34, 430), "IDEJE0000000<EJEMPLO<<<<<<<<<<<<<<<", font=_font(FONT_MONO, 24), fill=(30, 30, 30))
    # Diagonal watermark so nobody mistakes it for a real document.
    stamp = Image.new("L", (width, height), 0)
    ImageDraw.Draw(stamp).text(
        (width // 2, height // 2 + 20),
        "ESPÉCIMEN - FICTICIO",
        font=_font(FONT_BOLD, 50),
        fill=55,
        anchor="mm",
    )
    stamp = stamp.rotate(16, resample=Image.Resampling.BICUBIC)
    card.paste(Image.new("RGB", card.size, (200, 40, 40)), (0, 0), stamp)
    card.save(path, format="PNG", optimize=True, dpi=(300, 300))


# ------------------------------------------------------------------------------------------------------------
# Broken inputs
# ------------------------------------------------------------------------------------------------------------


def make_truncated_pdf(path: Path, pages: list[list[str]], fraction: float = 0.6) -> None:
    """Write the first `fraction` of a valid born-digital PDF's bytes (no xref, trailer or %%EOF survive)."""
    data = born_digital_pdf_bytes(pages)
    path.write_bytes(data[: int(len(data) * fraction)])


@contextlib.contextmanager
def _seeded_token_bytes(seed: int) -> Iterator[None]:
    """Make pypdf's salts, IVs and file id (all from secrets.token_bytes) repeatable while the block runs.

    Only for test fixtures whose password is public anyway: it makes the encrypted file byte-identical across
    runs. Never use this for real encryption.
    """
    rng = random.Random(seed)

    def token_bytes(nbytes: int | None = None) -> bytes:
        return rng.randbytes(32 if nbytes is None else nbytes)

    with mock.patch("secrets.token_bytes", token_bytes):
        yield


def make_encrypted_pdf(
    path: Path, pages: list[list[str]], password: str = ENCRYPTED_PASSWORD, *, deterministic: bool = True
) -> None:
    """Write a born-digital PDF encrypted with AES-256 (pypdf) and a user password."""
    reader = PdfReader(io.BytesIO(born_digital_pdf_bytes(pages)))
    writer = PdfWriter(clone_from=reader)
    buffer = io.BytesIO()
    with _seeded_token_bytes(1234) if deterministic else contextlib.nullcontext():
        writer.encrypt(user_password=password, owner_password=None, algorithm="AES-256")
        writer.write(buffer)
    path.write_bytes(buffer.getvalue())


def _hand_written_pdf(objects: list[bytes]) -> bytes:
    """Serialise numbered objects (1 = catalog, 2 = info) with an exact xref table and a fixed /ID."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"  # each entry is exactly 20 bytes, including the two-character EOL
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    file_id = b"<" + b"0123456789ABCDEF" * 2 + b">"
    size = len(objects) + 1
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 2 0 R /ID [%s %s] >>\n" % (size, file_id, file_id)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _one_page_objects(text: str, title: str, parent: int) -> list[bytes]:
    """Objects 1-5 of a hand-written PDF: catalog (pages root = 6), info, font, content, the one page."""
    content = f"BT /F1 11 Tf 72 720 Td ({text}) Tj ET\n".encode("ascii")
    return [
        b"<< /Type /Catalog /Pages 6 0 R >>",
        b"<< /Title (%s) /CreationDate (D:20240301120000Z) >>" % title.encode("ascii"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%sendstream" % (len(content), content),
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 3 0 R >> >> >>" % parent,
    ]


def make_million_pages_pdf(path: Path, pages: int = 1_000_000) -> None:
    """Hand-write a ~1.5 KB PDF whose page tree really holds `pages` pages, all the same page object.

    Intermediate /Pages nodes list the same child ten times (a DAG, not a cycle), so /Count is truthful at
    every level and any reader that walks the tree agrees on the total. pypdf 7 walks the tree for
    ``len(pages)`` and stops with LimitReachedError after Configuration.page_tree_maximum_entries (100,000);
    reading /Count (``reader.trailer["/Root"]["/Pages"]["/Count"]``) is instant; with the limits raised,
    ``len(pages)`` is 1,000,000 (~11 s, ~600 MB). qpdf reports a loop in /Pages and poppler zero pages.
    """
    if pages < 1:
        raise ValueError("pages must be at least 1")
    digits = [int(d) for d in reversed(str(pages))]  # digits[k] copies of a node that holds 10**k pages
    levels = len(digits) - 1
    # Object 5 is the page (10**0 pages), 6 the page tree root, 6 + k the node that holds 10**k pages.
    node = [5] + [6 + k for k in range(1, levels + 1)]
    objects = _one_page_objects(
        f"Fictional test file: its page tree repeats this one page {pages} times.",
        "Million pages \\(fictional test data\\)",
        parent=node[1] if levels else 6,
    )
    root_kids = b" ".join(b"%d 0 R" % node[k] for k in range(levels, -1, -1) for _ in range(digits[k]))
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (root_kids, pages))
    for k in range(1, levels + 1):
        kids = b" ".join([b"%d 0 R" % node[k - 1]] * 10)
        parent = node[k + 1] if k < levels else 6
        objects.append(b"<< /Type /Pages /Parent %d 0 R /Kids [%s] /Count %d >>" % (parent, kids, 10**k))
    path.write_bytes(_hand_written_pdf(objects))


def make_page_count_lie_pdf(path: Path, claimed_pages: int = 1_000_000) -> None:
    """Hand-write a one-page PDF whose page tree root /Count claims `claimed_pages` pages.

    pypdf 7 ignores /Count for unencrypted files (``len(reader.pages)`` is 1); code that trusts /Count sees
    the lie. Not generated by default; tests can call it.
    """
    objects = _one_page_objects(
        f"Fictional test file: one page, but /Count claims {claimed_pages} pages.",
        "Page count lie \\(fictional test data\\)",
        parent=6,
    )
    objects.append(b"<< /Type /Pages /Kids [5 0 R] /Count %d >>" % claimed_pages)
    path.write_bytes(_hand_written_pdf(objects))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png_bomb(path: Path, width: int = 30_000, height: int = 30_000) -> None:
    """Write a valid 1-bit greyscale PNG of width x height black pixels, compressed in a streaming fashion.

    Memory stays small while writing (about 1 MB of zero rows at a time). Deflate cannot beat ~1030:1, so a
    complete 30000x30000 stream is ~110 KB; decoding it needs ~900 MB in Pillow (mode "1" is a byte per
    pixel), and Image.open already raises DecompressionBombError under Pillow's default MAX_IMAGE_PIXELS.
    """
    row = bytes(1 + (width + 7) // 8)  # filter type 0 (None) followed by the packed 1-bit row
    rows_per_block = max(1, (1 << 20) // len(row))
    compressor = zlib.compressobj(9)
    parts: list[bytes] = []
    remaining = height
    while remaining:
        count = min(rows_per_block, remaining)
        parts.append(compressor.compress(row * count))
        remaining -= count
    parts.append(compressor.flush())
    idat = b"".join(parts)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale, no interlace
    chunks = [_png_chunk(b"IHDR", ihdr)]
    # Split IDAT like libpng does; decoders must concatenate them.
    chunks += [_png_chunk(b"IDAT", idat[i : i + 32768]) for i in range(0, len(idat), 32768)]
    chunks.append(_png_chunk(b"IEND", b""))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))


def make_jpeg_named_pdf(path: Path) -> None:
    """Write a small JPEG (a rendered 72 dpi page) under whatever name is given, typically *.pdf."""
    page = render_text_page(JPEG_NAMED_PDF_LINES, dpi=72)
    path.write_bytes(_jpeg_bytes(page, quality=60, dpi=72))


def make_corrupt_pdf(path: Path, size: int = 2048, seed: int = 0) -> None:
    """Write a '%PDF-1.7' header followed by seeded random garbage, `size` bytes in total."""
    header = b"%PDF-1.7\n"
    path.write_bytes(header + random.Random(seed).randbytes(size - len(header)))


# ------------------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------------------


def conditions_report_pdf_bytes(pages: list[list[str]], title: str) -> bytes:
    """A born-digital report: one list of paragraphs per page, each starting on a new page."""
    return born_digital_pdf_bytes(pages, title=title)


def make_conditions_library(folder: Path, translations: Path) -> list[Path]:
    """The demo's country-conditions library of the fictional country Valdoria (XV) in ``folder``: five reports
    (English and Spanish, one scanned, two editions of one series where the newer drops three sections), a saved
    web page, and the metadata CSV ``sources.csv`` that `casefile conditions add FOLDER` reads; in ``translations``
    the English translation of the Spanish report."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    pdfs = {
        "state_2023_valdoria.pdf": STATE_2023_XV,
        "state_2024_valdoria.pdf": STATE_2024_XV,
        "unhcr_2023_valdoria.pdf": UNHCR_2023_XV,
        "ovdh_violencia_2024_es.pdf": OVDH_2024_ES,
    }
    for name, pages in pdfs.items():
        path = folder / name
        path.write_bytes(conditions_report_pdf_bytes(pages, title=f"Synthetic report on a fictional country ({name})"))
        files.append(path)
    scan = folder / "hrw_2022_valdoria_scan.pdf"
    make_scanned_pdf(scan, HRW_2022_XV_SCAN, dpi=200, seed=21)
    files.append(scan)
    html = folder / "valdoria_daily_2025_war_tax.html"
    html.write_text(NEWS_2025_XV_HTML, encoding="utf-8")
    files.append(html)
    sheet = folder / "sources.csv"
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("file", "country", *CONDITIONS_CSV_FIELDS[1:]))
        for row in CONDITIONS_SOURCES:
            writer.writerow((row[0], "XV", *row[1:]))
    files.append(sheet)
    translations.mkdir(parents=True, exist_ok=True)
    english = translations / "ovdh_violencia_2024_es.en.pdf"
    english.write_bytes(conditions_report_pdf_bytes(OVDH_2024_EN, title="English translation (fictional)"))
    files.append(english)
    return files


def generate_all(out_dir: Path = RESOURCES_DIR, demo_dir: Path | None = None) -> list[Path]:
    """(Re)create every file: the demo's (sample/, translations/, responses/) under ``demo_dir`` (default: the package
    data folder tasks/demo/data; out_dir itself when out_dir is not this folder) and broken/ under out_dir."""
    if demo_dir is None:
        demo_dir = DEMO_DATA_DIR if out_dir.resolve() == RESOURCES_DIR.resolve() else out_dir
    sample = demo_dir / "sample"
    broken = out_dir / "broken"
    sample.mkdir(parents=True, exist_ok=True)
    broken.mkdir(parents=True, exist_ok=True)

    files: list[Path] = []

    def target(path: Path) -> Path:
        files.append(path)
        return path

    make_born_digital_pdf(target(sample / "medical_record_en.pdf"), MEDICAL_RECORD_EN)
    make_scanned_pdf(target(sample / "denuncia_scan_es.pdf"), DENUNCIA_ES, dpi=200, seed=7)
    make_photo_jpeg(target(sample / "phone_photo_letter.jpg"), CARTA_DE_APOYO_ES, orientation=1, seed=11)
    make_photo_jpeg(target(sample / "phone_photo_rotated.jpg"), CONSTANCIA_ES, orientation=6, seed=12)
    make_multipage_tiff(target(sample / "school_record_2pages.tif"), SCHOOL_RECORD_EN)
    make_id_card_png(target(sample / "id_card.png"))

    translations = demo_dir / "translations"  # English translations of the Spanish samples (not added by `add`)
    translations.mkdir(parents=True, exist_ok=True)
    make_born_digital_pdf(target(translations / "denuncia_scan_es.en.pdf"), DENUNCIA_EN)
    make_born_digital_pdf(target(translations / "phone_photo_letter.en.pdf"), CARTA_DE_APOYO_EN)
    make_born_digital_pdf(target(translations / "phone_photo_rotated.en.pdf"), CONSTANCIA_EN)
    make_born_digital_pdf(target(translations / "id_card.en.pdf"), ID_CARD_EN)

    responses = demo_dir / "responses"  # answers to record requests (the demo receives one)
    responses.mkdir(parents=True, exist_ok=True)
    make_born_digital_pdf(target(responses / "metro_general_records.pdf"), RECORDS_REPLY_EN)

    files += make_conditions_library(demo_dir / "conditions", translations)  # the demo's country-conditions library

    make_truncated_pdf(target(broken / "truncated.pdf"), TRUNCATED_SOURCE, fraction=0.6)
    make_encrypted_pdf(target(broken / "encrypted.pdf"), ENCRYPTED_SOURCE, ENCRYPTED_PASSWORD)
    make_million_pages_pdf(target(broken / "million_pages.pdf"), 1_000_000)
    make_png_bomb(target(broken / "png_bomb.png"), 30_000, 30_000)
    make_jpeg_named_pdf(target(broken / "jpeg_named.pdf"))
    make_corrupt_pdf(target(broken / "corrupt.pdf"), size=2048, seed=3)
    target(broken / "empty.pdf").write_bytes(b"")
    target(broken / "notes.txt").write_text(NOTES_TXT, encoding="utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=RESOURCES_DIR, help="folder to write into (default: here)")
    args = parser.parse_args(argv)
    files = generate_all(args.out)
    total = 0
    for path in files:
        size = path.stat().st_size
        total += size
        print(f"{size:>9,}  {path}")
    print(f"{total:>9,}  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
